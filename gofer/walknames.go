package gofer

import "golang.org/x/sys/unix"

// NameResult is what WalkNames found for one name: its fid and
// attributes, or the errno of its lookup.
type NameResult struct {
	FID  uint64
	Attr Attr
	Err  unix.Errno
	// NoXattr says that the file had no extended attribute the sandbox
	// can see when it was walked (asked for with WalkXattrs; false when
	// not asked or not known).
	NoXattr bool
}

// decodeResult decodes one walked name's result (Server.walkResult).
func decodeResult(r *Reply) NameResult {
	var nr NameResult
	if nr.Err = unix.Errno(r.U32()); nr.Err == 0 {
		nr.FID = r.U64()
		nr.Attr = r.Attr()
		nr.NoXattr = r.U8()&resultNoXattr != 0
	}
	return nr
}

// WalkNames looks up each of names (at most MaxWalkNames, and few enough
// that the request fits in MaxMessage) in directory fid in one round
// trip, appending one result per name to out; flags may ask for
// WalkXattrs. The caller owns every fid returned (Clunk those it does not
// keep).
func (c *Client) WalkNames(fid uint64, names []string, flags uint32, out []NameResult) ([]NameResult, error) {
	start := len(out)
	err := c.do(&Request{Type: TWalkNames, FID: fid, Flags: flags, Names: names}, func(r Reply) error {
		closeFD(r.FD)
		if int(r.U16()) != len(names) {
			return unix.EIO
		}
		for range names {
			out = append(out, decodeResult(&r))
		}
		if r.Done() != nil {
			for _, nr := range out[start:] {
				if nr.Err == 0 {
					c.Clunk(nr.FID)
				}
			}
			return unix.EIO
		}
		return nil
	})
	if err != nil {
		return out[:start], err
	}
	return out, nil
}

// MaxWalkNamesBytes bounds the names of one TWalkNames: the sum over them
// of 4 + len(name) (names of NAME_MAX bytes do not all fit MaxWalkNames to
// a message).
const MaxWalkNamesBytes = MaxMessage - HeaderSize - 8 - 2

// GetdentsWalk is Getdents that also looks up every entry but "." and
// ".." in the same round trip: f gets the records, whether the directory
// ended after them, and one result per such entry, in order (the fids are
// the caller's, as from WalkNames; f must keep or Clunk them, even if it
// fails).
func (c *Client) GetdentsWalk(fid uint64, off int64, count int, flags uint32, f func(recs []byte, eof bool, res []NameResult) error) error {
	return c.do(&Request{Type: TGetdentsWalk, FID: fid, Off: uint64(off), Count: uint32(count), Flags: flags}, func(r Reply) error {
		closeFD(r.FD)
		b := r.Bytes(MaxMessage)
		eof := r.U8() != 0
		n := int(r.U16())
		res := make([]NameResult, 0, n)
		for i := 0; i < n && r.Err() == nil; i++ {
			res = append(res, decodeResult(&r))
		}
		if r.Done() != nil {
			for _, nr := range res {
				if nr.Err == 0 {
					c.Clunk(nr.FID)
				}
			}
			return unix.EIO
		}
		return f(b, eof, res)
	})
}
