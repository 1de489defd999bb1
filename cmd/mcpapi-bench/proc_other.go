//go:build !linux

package main

import (
	"errors"
	"os"
	"os/exec"
	"time"
)

var termSignal = os.Interrupt

const clockTick = 10 * time.Millisecond

func setChildAttrs(*exec.Cmd) {}

// cpuTime is unknown off Linux (it reads /proc).
func cpuTime(int) (time.Duration, bool) { return 0, false }

// peakRSS is unknown off Linux.
func peakRSS(int) (int64, bool) { return 0, false }

func currentRSS(int) (int64, bool) { return 0, false }

func resetPeakRSS(int) error { return errors.ErrUnsupported }
