package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// Write replaces the whole file and leaves no temporary file behind; a
// file that cannot be written leaves the old contents in place.
func TestWriteReplacesWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := Write(path, []byte(`{"a":"long old contents"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != `{}` {
		t.Fatalf("contents %q, want {}", b)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	if err := os.Mkdir(path+".tmp", 0o700); err != nil { // the temporary cannot be written
		t.Fatal(err)
	}
	if err := Write(path, []byte(`new`), 0o600); err == nil {
		t.Fatal("Write succeeded though its temporary file could not be written")
	}
	if b, _ := os.ReadFile(path); string(b) != `{}` {
		t.Fatalf("a failed write changed the file to %q", b)
	}
}
