package server

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Pinned server versions. The DynamoDB Local checksums are those of the
// emulator shipped in the npm package: the package's own sha256 file (the
// checksum of the upstream archive it was built from) and the jar itself.
const (
	DynamoDBLocalVersion   = "1.25.1"
	DynamoDBLocalNPM       = "amplify-dynamodb-simulator@2.9.30"
	dynamoDBUpstreamSHA256 = "55b425a9a42cfc728436eaf0e4ae64d688b64d177c99c4f4c4d7e3dbb3ac6c09"
	dynamoDBJarSHA256      = "454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7"
	VersitygwModule        = "github.com/versity/versitygw/cmd/versitygw"
	VersitygwVersion       = "v1.8.0"
	RIEModule              = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	RIEVersion             = "v0.0.0-20261030222936-bef5c4ba774d"
)

// Paths locates the cached server artifacts.
type Paths struct {
	DynamoDBDir string // holds DynamoDBLocal.jar and DynamoDBLocal_lib
	Versitygw   string // the versitygw binary
	RIE         string // the Lambda runtime interface emulator
	Java        string // the java binary
}

// SetupError is a missing prerequisite with the fix an operator can apply.
type SetupError struct {
	What string
	Hint string
}

func (e *SetupError) Error() string { return e.What + ": " + e.Hint }

func dynamoDBDir(cache string) string {
	return filepath.Join(cache, "dynamodb-local-"+DynamoDBLocalVersion)
}

func versitygwPath(cache string) string {
	return filepath.Join(cache, "versitygw-"+VersitygwVersion, "versitygw")
}

func riePath(cache string) string {
	return filepath.Join(cache, "rie-"+RIEVersion[len(RIEVersion)-12:], "aws-lambda-rie")
}

// Find returns the cached servers, or a SetupError saying how to get
// them. It never downloads.
// DefaultCacheDir is where `make deps` (`pilotlight lab fetch`) puts the
// servers: $PILOTLIGHT_CACHE_DIR, or ~/.cache/pilotlight.
func DefaultCacheDir() string {
	if d := os.Getenv("PILOTLIGHT_CACHE_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "pilotlight")
}

func Find(cache string) (Paths, error) {
	s := Paths{DynamoDBDir: dynamoDBDir(cache), Versitygw: versitygwPath(cache), RIE: riePath(cache)}
	java, err := exec.LookPath("java")
	if err != nil {
		return s, &SetupError{"java not found", "DynamoDB Local needs Java 17 or newer: apt-get install -y openjdk-17-jre-headless"}
	}
	s.Java = java
	if err := verifyDynamoDB(s.DynamoDBDir); err != nil {
		return s, err
	}
	if _, err := os.Stat(s.Versitygw); err != nil {
		return s, &SetupError{"versitygw not built", "run `make deps` (or `pilotlight lab fetch`) to build it into " + filepath.Dir(s.Versitygw)}
	}
	if _, err := os.Stat(s.RIE); err != nil {
		return s, &SetupError{"Lambda runtime interface emulator not built", "run `make deps` (or `pilotlight lab fetch`) to build it into " + filepath.Dir(s.RIE)}
	}
	return s, nil
}

func verifyDynamoDB(dir string) error {
	got, err := os.ReadFile(filepath.Join(dir, "sha256"))
	if err != nil {
		return &SetupError{"DynamoDB Local not downloaded", "run `make deps` (or `pilotlight lab fetch`) to fetch it into " + dir}
	}
	if strings.TrimSpace(string(got)) != dynamoDBUpstreamSHA256 {
		return &SetupError{fmt.Sprintf("DynamoDB Local in %s is not version %s (its sha256 file says %.12s…)", dir, DynamoDBLocalVersion, got),
			"delete that directory and run `make deps` again"}
	}
	sum, err := fileSHA256(filepath.Join(dir, "DynamoDBLocal.jar"))
	if err != nil {
		return &SetupError{"DynamoDB Local jar unreadable: " + err.Error(), "delete " + dir + " and run `make deps` again"}
	}
	if sum != dynamoDBJarSHA256 {
		return &SetupError{fmt.Sprintf("checksum mismatch for %s: got %s, want %s", filepath.Join(dir, "DynamoDBLocal.jar"), sum, dynamoDBJarSHA256),
			"the download is damaged or altered: delete " + dir + " and run `make deps` again"}
	}
	return nil
}

// Ensure returns the cached servers, fetching and building whatever is
// missing: DynamoDB Local from its npm package, versitygw from its pinned Go
// module. Progress lines go to progress.
func Ensure(ctx context.Context, cache string, progress io.Writer) (Paths, error) {
	s, err := Find(cache)
	if err == nil {
		return s, nil
	}
	var se *SetupError
	if !errors.As(err, &se) || s.Java == "" {
		return s, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return s, fmt.Errorf("create cache %s: %w", cache, err)
	}
	if verifyDynamoDB(s.DynamoDBDir) != nil {
		fmt.Fprintf(progress, "fetching DynamoDB Local %s (npm %s)…\n", DynamoDBLocalVersion, DynamoDBLocalNPM)
		if err := fetchDynamoDB(ctx, cache, s.DynamoDBDir); err != nil {
			return s, err
		}
	}
	if _, err := os.Stat(s.Versitygw); err != nil {
		fmt.Fprintf(progress, "building versitygw %s (takes a few minutes, once)…\n", VersitygwVersion)
		if err := goInstall(ctx, VersitygwModule, VersitygwVersion, s.Versitygw); err != nil {
			return s, err
		}
	}
	if _, err := os.Stat(s.RIE); err != nil {
		fmt.Fprintf(progress, "building the Lambda runtime interface emulator…\n")
		if err := goInstall(ctx, RIEModule, RIEVersion, s.RIE); err != nil {
			return s, err
		}
	}
	return Find(cache)
}

func fetchDynamoDB(ctx context.Context, cache, dest string) error {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return &SetupError{"npm not found", "DynamoDB Local is fetched from the npm registry: apt-get install -y npm (or install Node.js 20)"}
	}
	tmp, err := os.MkdirTemp(cache, "fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", DynamoDBLocalNPM)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(cache, "npm"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &SetupError{fmt.Sprintf("npm pack %s failed: %v: %s", DynamoDBLocalNPM, err, lastLine(out)), "check that npm can reach its registry (npm ping)"}
	}
	tgz := filepath.Join(tmp, strings.TrimSpace(lastLine(out)))
	stage := filepath.Join(tmp, "emulator")
	if err := untarPrefix(tgz, "package/emulator/", stage); err != nil {
		return fmt.Errorf("unpack %s: %w", tgz, err)
	}
	if err := verifyDynamoDB(stage); err != nil {
		return err
	}
	_ = os.RemoveAll(dest)
	return os.Rename(stage, dest)
}

// untarPrefix extracts the entries of a .tgz under prefix into dest,
// refusing paths that would escape dest.
func untarPrefix(tgz, prefix, dest string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if !strings.HasPrefix(h.Name, prefix) {
			continue
		}
		rel := filepath.Clean(strings.TrimPrefix(h.Name, prefix))
		if rel == "." || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
			continue
		}
		p := filepath.Join(dest, rel)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(w, tr); err != nil {
				w.Close()
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no files under %s", prefix)
	}
	return nil
}

func goInstall(ctx context.Context, module, version, dest string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return &SetupError{"go not found", module + " is built from source: install Go 1.26 or newer"}
	}
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, gobin, "install", module+"@"+version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return &SetupError{fmt.Sprintf("go install %s@%s failed: %v: %s", module, version, err, lastLine(out)), "check that the Go module proxy is reachable (go env GOPROXY)"}
	}
	return nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
