package mm

import (
	"fmt"
	"strings"
)

// Read-only views of an address space for /proc/[pid]/{smaps,statm,status}.

// MemoryStats are the sizes /proc/[pid]/status and statm report, in bytes.
type MemoryStats struct {
	// VirtualSize is the total length of all vmas (VmSize).
	VirtualSize uint64
	// Resident is the memory backed by pmas (VmRSS), split into file
	// pages (RssFile: pmas of file or shared mappings) and anonymous ones
	// (RssAnon).
	Resident, ResidentFile, ResidentAnon uint64
	// Data is private writable memory that is not a stack (VmData);
	// Stack is the growsdown vmas (VmStk); Exec is executable file
	// mappings (VmExe, the text); Shared is shared mappings.
	Data, Stack, Exec, Shared uint64
}

// Stats returns the address space's sizes.
func (mm *MemoryManager) Stats() MemoryStats {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	var s MemoryStats
	for _, v := range mm.vmas {
		n := v.end - v.start
		s.VirtualSize += n
		var rss uint64
		for i := range v.pmas {
			rss += v.pmas[i].end - v.pmas[i].start
		}
		s.Resident += rss
		if v.isPrivateAnon() {
			s.ResidentAnon += rss
		} else {
			s.ResidentFile += rss
		}
		switch {
		case v.growsDown || v.name == "[stack]":
			s.Stack += n
		case v.perms.Execute && v.mappable != nil:
			s.Exec += n
		case !v.private:
			s.Shared += n
		case v.perms.Write:
			s.Data += n
		}
	}
	return s
}

// SmapsText returns the contents of /proc/[pid]/smaps: each line of
// MapsText followed by the vma's memory accounting in Linux's format.
func (mm *MemoryManager) SmapsText() string {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	var b strings.Builder
	for _, v := range mm.vmas {
		writeMapsLine(&b, v)
		var rss, anon uint64
		for i := range v.pmas {
			n := v.pmas[i].end - v.pmas[i].start
			rss += n
			if v.private && (v.mappable == nil || !v.pmas[i].cow) {
				anon += n
			}
		}
		var sharedClean, privateDirty, privateClean uint64
		if v.private {
			privateDirty = anon
			privateClean = rss - anon
		} else {
			sharedClean = rss
		}
		kb := func(name string, n uint64) {
			fmt.Fprintf(&b, "%-16s%8d kB\n", name+":", n>>10)
		}
		kb("Size", v.end-v.start)
		kb("KernelPageSize", 4096)
		kb("MMUPageSize", 4096)
		kb("Rss", rss)
		kb("Pss", rss)
		kb("Pss_Dirty", privateDirty)
		kb("Shared_Clean", sharedClean)
		kb("Shared_Dirty", 0)
		kb("Private_Clean", privateClean)
		kb("Private_Dirty", privateDirty)
		kb("Referenced", rss)
		kb("Anonymous", anon)
		kb("KSM", 0)
		kb("LazyFree", 0)
		kb("AnonHugePages", 0)
		kb("ShmemPmdMapped", 0)
		kb("FilePmdMapped", 0)
		kb("Shared_Hugetlb", 0)
		kb("Private_Hugetlb", 0)
		kb("Swap", 0)
		kb("SwapPss", 0)
		kb("Locked", 0)
		fmt.Fprintf(&b, "THPeligible:    0\n")
		fmt.Fprintf(&b, "VmFlags: %s\n", vmFlags(v))
	}
	return b.String()
}

// vmFlags returns the VmFlags line's two-letter codes for v.
func vmFlags(v *vma) string {
	var f []string
	add := func(cond bool, code string) {
		if cond {
			f = append(f, code)
		}
	}
	add(v.perms.Read, "rd")
	add(v.perms.Write, "wr")
	add(v.perms.Execute, "ex")
	add(!v.private, "sh")
	add(v.maxPerms.Read, "mr")
	add(v.maxPerms.Write, "mw")
	add(v.maxPerms.Execute, "me")
	add(!v.private && v.maxPerms.Write, "ms")
	add(v.growsDown, "gd")
	add(v.dontFork, "dc")
	add(v.wipeOnFork, "wf")
	add(v.isPrivateAnon(), "ac")
	return strings.Join(f, " ")
}

// ProgramBreak returns the current program break (the end of [heap]).
func (mm *MemoryManager) ProgramBreak() uint64 {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	return mm.brk
}

// StackStart returns the highest address of the "[stack]" vma (where the
// loader put argv and the auxiliary vector), or 0.
func (mm *MemoryManager) StackStart() uint64 {
	mm.mu.RLock()
	defer mm.mu.RUnlock()
	for _, v := range mm.vmas {
		if v.name == "[stack]" {
			return v.end
		}
	}
	return 0
}
