package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pilotlight/pilotlight/internal/lab"
	"github.com/pilotlight/pilotlight/internal/lab/atomicfile"
	"github.com/pilotlight/pilotlight/internal/lab/server"
)

// State is what a running lab records in <dir>/state.json, so that other
// commands can find, control and stop it. It holds the lab's credentials:
// the directory is private to the user (0700) and ignored by git.
type State struct {
	Version     int                    `json:"version"`
	Pid         int                    `json:"pid"` // the supervisor
	Started     time.Time              `json:"started"`
	Control     string                 `json:"control"` // http://127.0.0.1:port
	Token       string                 `json:"token"`
	App         string                 `json:"app"`
	Primary     string                 `json:"primary"`
	DR          string                 `json:"dr"`
	Credentials lab.Credentials        `json:"credentials"`
	Regions     map[string]RegionState `json:"regions"`
	FrontDoor   string                 `json:"front_door,omitempty"` // routed URL of the orders service
	// AgreementWait is how long a failover waits for the front door to
	// agree the primary is down (FunctionOptions.AgreementWait).
	AgreementWait time.Duration `json:"agreement_wait,omitempty"`
	// Witness is the witness region ("" without one): a control table
	// only, behind its own proxy.
	Witness       string       `json:"witness,omitempty"`
	WitnessRegion *RegionState `json:"witness_region,omitempty"`
	// ControllerEnv is the PILOTLIGHT_* environment of the DR region's
	// failover controller (lab.Lab.ControllerEnv): what every controller of
	// this lab is built from.
	ControllerEnv map[string]string `json:"controller_env,omitempty"`
}

// RegionState is one region's endpoints and server pids.
type RegionState struct {
	Endpoints lab.Endpoints  `json:"endpoints"`
	Pids      map[string]int `json:"pids"`
	// Behind is the region's DynamoDB endpoint behind its fault proxy (the
	// write-time front): a client there is not slowed or cut by the
	// region's faults. Drills use it to commit a write at once in a slowed
	// region (lww-same-key).
	Behind string `json:"behind_fault_proxy,omitempty"`
}

const stateVersion = 1

// Markers that identify the lab's processes in /proc/<pid>/cmdline, so a
// recycled pid is never signalled.
const (
	supervisorMarker = "lab serve"
	dynamoDBMarker   = "DynamoDBLocal.jar"
	versitygwMarker  = "versitygw"
)

// ErrNoLab means there is no state file: no lab runs from this directory.
var ErrNoLab = errors.New("no lab is running here: start one with `pilotlight lab up` (or `make lab`)")

func statePath(dir string) string { return filepath.Join(dir, "state.json") }

// ReadState reads the lab state in dir. It returns ErrNoLab when there is none.
func ReadState(dir string) (State, error) {
	var s State
	b, err := os.ReadFile(statePath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return s, ErrNoLab
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("lab state %s is corrupt (%v): run `pilotlight lab down` to clean up", statePath(dir), err)
	}
	if s.Version != stateVersion {
		return s, fmt.Errorf("lab state %s has version %d, this pilotlight reads %d: run `pilotlight lab down` and `lab up` again", statePath(dir), s.Version, stateVersion)
	}
	return s, nil
}

func writeState(dir string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(statePath(dir), b, 0o600)
}

// Alive reports whether the lab's supervisor still runs.
func (s State) Alive() bool {
	return s.Pid == os.Getpid() || server.Alive(s.Pid, supervisorMarker)
}

// Stop stops the lab recorded in dir: the supervisor first (which stops its
// servers and saves replication positions), then any server it left behind.
// It removes the state, logs and data. A lab that crashed is cleaned the same
// way. It returns ErrNoLab when there is nothing to stop.
func Stop(dir string) (State, error) {
	s, err := ReadState(dir)
	if errors.Is(err, ErrNoLab) {
		return s, err
	}
	if err == nil {
		_ = server.Kill(s.Pid, supervisorMarker, 10*time.Second)
		for _, r := range s.Regions {
			_ = server.Kill(r.Pids["dynamodb"], dynamoDBMarker, 3*time.Second)
			_ = server.Kill(r.Pids["s3"], versitygwMarker, 3*time.Second)
		}
		if s.WitnessRegion != nil {
			_ = server.Kill(s.WitnessRegion.Pids["dynamodb"], dynamoDBMarker, 3*time.Second)
		}
	}
	for _, p := range []string{statePath(dir), filepath.Join(dir, "data"), filepath.Join(dir, "replication")} {
		if rmErr := os.RemoveAll(p); rmErr != nil && err == nil {
			err = rmErr
		}
	}
	return s, err
}
