package cmd

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rampart-sandbox/rampart/runsc/boot"
)

// ociConfig adds to c the parts of config.json that are the sandbox's own
// view of the container: linux.sysctl, linux.devices and
// process.oomScoreAdj. create calls it on a scratch Config first, so
// that a bad value fails before anything exists.
func ociConfig(spec *specs.Spec, c *boot.Config) error {
	if spec.Linux != nil && len(spec.Linux.Sysctl) > 0 {
		if err := boot.CheckSysctls(spec.Linux.Sysctl); err != nil {
			return err
		}
		c.Sysctls = spec.Linux.Sysctl
	}
	devs, err := boot.ParseDevices(spec)
	if err != nil {
		return err
	}
	c.Devices = devs
	if p := spec.Process; p != nil && p.OOMScoreAdj != nil {
		v := *p.OOMScoreAdj
		if v < -1000 || v > 1000 {
			return fmt.Errorf("process.oomScoreAdj: %d is not in [-1000, 1000]", v)
		}
		c.OOMScoreAdj = &v
	}
	return nil
}
