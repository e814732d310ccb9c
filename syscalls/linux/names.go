package linux

// SyscallNumber returns the x86-64 number of the syscall called name, for
// configuration that names syscalls (config.json's linux.seccomp).
func SyscallNumber(name string) (int, bool) {
	nr, ok := syscallNumbers[name]
	return nr, ok
}

// syscallNumbers inverts syscallNames; read-only after init.
var syscallNumbers = func() map[string]int {
	m := make(map[string]int, len(syscallNames))
	for nr, name := range syscallNames {
		m[name] = nr
	}
	return m
}()
