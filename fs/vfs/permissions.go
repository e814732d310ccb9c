package vfs

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Access bits, as in access(2)'s mode.
const (
	MayExec  = 1
	MayWrite = 2
	MayRead  = 4
)

// CheckPermission reports whether creds may access a node with the given
// mode and owner as ats (MayRead|MayWrite|MayExec), following Linux's
// generic_permission: owner, then group (including supplementary groups),
// then other bits; CAP_DAC_OVERRIDE grants everything except executing a
// non-directory without any x bit; CAP_DAC_READ_SEARCH grants reading, and
// searching directories.
func CheckPermission(creds *auth.Credentials, ats uint32, mode uint32, uid auth.KUID, gid auth.KGID) error {
	var perms uint32
	switch {
	case creds.FilesystemKUID == uid:
		perms = (mode >> 6) & 7
	case creds.InGroup(gid):
		perms = (mode >> 3) & 7
	default:
		perms = mode & 7
	}
	if perms&ats == ats {
		return nil
	}
	isDir := mode&unix.S_IFMT == unix.S_IFDIR
	if creds.HasCapability(auth.CAP_DAC_OVERRIDE) {
		if ats&MayExec == 0 || isDir || mode&0o111 != 0 {
			return nil
		}
	}
	if creds.HasCapability(auth.CAP_DAC_READ_SEARCH) && ats&MayWrite == 0 {
		if ats == MayRead || (isDir && ats&^(MayRead|MayExec) == 0) {
			return nil
		}
	}
	return unix.EACCES
}

// checkInodePermission is CheckPermission on an inode.
func checkInodePermission(creds *auth.Credentials, ats uint32, ino Inode) error {
	mode, uid, gid := ino.Perms()
	return CheckPermission(creds, ats, mode, uid, gid)
}

// isOwner reports whether creds own a node or may act as its owner
// (CAP_FOWNER).
func isOwner(creds *auth.Credentials, uid auth.KUID) bool {
	return creds.FilesystemKUID == uid || creds.HasCapability(auth.CAP_FOWNER)
}

// checkSticky returns EPERM if the directory dir has the sticky bit and
// creds may not remove or rename its entry child.
func checkSticky(creds *auth.Credentials, dir, child Inode) error {
	dmode, duid, _ := dir.Perms()
	if dmode&unix.S_ISVTX == 0 {
		return nil
	}
	_, cuid, _ := child.Perms()
	if creds.FilesystemKUID == cuid || creds.FilesystemKUID == duid || creds.HasCapability(auth.CAP_FOWNER) {
		return nil
	}
	return unix.EPERM
}

// AccessFromOpenFlags returns the access bits that opening with flags
// requires.
func AccessFromOpenFlags(flags uint32) uint32 {
	var ats uint32
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		ats = MayRead
	case unix.O_WRONLY:
		ats = MayWrite
	default:
		ats = MayRead | MayWrite
	}
	if flags&unix.O_TRUNC != 0 {
		ats |= MayWrite
	}
	return ats
}

// CheckAccess checks that the caller may access vd as ats (used by chdir,
// fchdir and chroot for search permission).
func CheckAccess(ctx Context, vd VirtualDentry, ats uint32) error {
	return checkInodePermission(ctx.Credentials(), ats, vd.dentry.inode)
}

// killPrivMode returns the mode a regular file takes when it is written,
// truncated or chowned by creds (Linux's should_remove_suid): S_ISUID goes,
// and S_ISGID with group execute (S_ISGID alone marks mandatory locking and
// stays). kill is false when nothing changes or creds have CAP_FSETID.
func killPrivMode(creds *auth.Credentials, mode uint32) (uint32, bool) {
	if mode&unix.S_IFMT != unix.S_IFREG || mode&(unix.S_ISUID|unix.S_ISGID) == 0 {
		return mode, false
	}
	nm := mode &^ unix.S_ISUID
	if mode&unix.S_IXGRP != 0 {
		nm &^= unix.S_ISGID
	}
	if nm == mode || creds.HasCapability(auth.CAP_FSETID) {
		return mode, false
	}
	return nm, true
}

// killPrivOnWrite clears S_ISUID/S_ISGID of the regular file fd before a
// write of a non-empty buffer, as Linux's file_remove_privs. It costs one
// atomic load for the files that have neither bit.
func (fd *FileDescription) killPrivOnWrite(ctx Context) {
	d := fd.vd.dentry
	if d == nil {
		return
	}
	mode, _, _ := d.inode.Perms()
	if nm, kill := killPrivMode(ctx.Credentials(), mode); kill {
		d.inode.SetStat(ctx, &SetStatOptions{Mask: unix.STATX_MODE, Mode: nm & 0o7777})
	}
}

// CheckSetStatusFlags checks F_SETFL's new flags: turning on O_NOATIME
// needs ownership of the file (or CAP_FOWNER), as for open.
func (fd *FileDescription) CheckSetStatusFlags(ctx Context, flags uint32) error {
	if flags&unix.O_NOATIME == 0 || fd.flags.Load()&unix.O_NOATIME != 0 || fd.vd.dentry == nil {
		return nil
	}
	if _, uid, _ := fd.vd.dentry.inode.Perms(); !isOwner(ctx.Credentials(), uid) {
		return unix.EPERM
	}
	return nil
}
