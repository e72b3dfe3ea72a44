package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestZipIsReproducibleAndLambdaShaped(t *testing.T) {
	bin := []byte("\x7fELF pretend binary")
	a, err := Zip(bin)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Zip(bin)
	if !bytes.Equal(a, b) {
		t.Fatal("two zips of the same bytes differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 {
		t.Fatalf("entries: %+v", zr.File)
	}
	if c, _ := Zip([]byte("other")); bytes.Equal(a, c) {
		t.Fatal("different binaries gave the same zip")
	}
}

// Two builds of the same source for AWS (linux/arm64) give byte-identical
// zips: deploy can tell an unchanged function from a changed one.
func TestPackageTwiceIsByteIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the functions twice")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	first, err := Package(ctx, root, "arm64", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	second, err := Package(ctx, root, "arm64", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if first[i].SHA256 != second[i].SHA256 {
			t.Errorf("%s: %s then %s", first[i].Function, first[i].SHA256, second[i].SHA256)
		}
		raw, _ := os.ReadFile(first[i].Path)
		zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
		if err != nil || len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
			t.Errorf("%s: not a Lambda zip: %v", first[i].Function, err)
		}
	}
}
