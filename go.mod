module github.com/rampart-sandbox/rampart

go 1.26.0

require (
	github.com/google/subcommands v1.2.0 // indirect
	github.com/opencontainers/runtime-spec v1.2.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
