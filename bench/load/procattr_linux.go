package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd when the harness dies, however it
// dies: no server or load generator outlives the run that started it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
