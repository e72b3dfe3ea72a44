package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/pilotlight/pilotlight/internal/region"
)

// Functions are the Lambda functions pilotlight ships, by directory under
// lambda/.
var Functions = region.Functions

// zipEpoch is the modification time of every zip entry: a fixed time makes
// the archive depend only on the binary's bytes.
var zipEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Build compiles lambda/<name> in the module at root into dir/<name>/bootstrap
// for linux/goarch (arm64 for AWS), without cgo, debug paths or VCS stamps, so
// the same source gives the same binary.
func Build(ctx context.Context, root, name, goarch, dir string) (string, error) {
	out := filepath.Join(dir, name, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid=", "-o", out, "./lambda/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s for linux/%s: %v: %s", name, goarch, err, bytes.TrimSpace(b))
	}
	return out, nil
}

// Zip packs a bootstrap binary the way Lambda expects (one executable entry
// named bootstrap), reproducibly: fixed time, fixed mode, no extra fields.
func Zip(bootstrap []byte) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipEpoch}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(bootstrap); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Artifact is one packaged function.
type Artifact struct {
	Function string `json:"function"`
	Path     string `json:"path"`
	SHA256   string `json:"sha256"`
	Bytes    int    `json:"bytes"`
}

// Package builds and zips every function into dir/<name>.zip.
func Package(ctx context.Context, root, goarch, dir string) ([]Artifact, error) {
	var out []Artifact
	for _, fn := range Functions {
		bin, err := Build(ctx, root, fn, goarch, filepath.Join(dir, "build-"+goarch))
		if err != nil {
			return nil, err
		}
		raw, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		z, err := Zip(raw)
		if err != nil {
			return nil, fmt.Errorf("zip %s: %w", fn, err)
		}
		path := filepath.Join(dir, fn+".zip")
		if err := os.WriteFile(path, z, 0o644); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(z)
		out = append(out, Artifact{Function: fn, Path: path, SHA256: hex.EncodeToString(sum[:]), Bytes: len(z)})
	}
	return out, nil
}
