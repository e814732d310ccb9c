package gofer

import (
	"golang.org/x/sys/unix"

	gproto "github.com/rampart-sandbox/rampart/gofer"
)

// ServedWritable reports whether the gofer on c serves its root writable
// (its statfs has no ST_RDONLY): what New assumes without options, for a
// caller that passes options (a caching mode) and follows the gofer.
func ServedWritable(c *gproto.Client) (bool, error) {
	fid, _, err := c.Attach()
	if err != nil {
		return false, err
	}
	st, err := c.StatFS(fid)
	if err != nil {
		return false, err
	}
	return st.Flags&unix.ST_RDONLY == 0, nil
}
