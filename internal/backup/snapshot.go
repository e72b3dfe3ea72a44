package backup

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

// Format is the manifest's format marker.
const Format = "pilotlight-snapshot/1"

// Manifest describes a snapshot. It is written last: a snapshot without one
// is incomplete and never restored.
type Manifest struct {
	Format string `json:"format"`
	ID     string `json:"id"`
	// Table is the table the snapshot was taken of; Keys its key schema
	// (hash key first), so a restore can create the table again.
	Table string    `json:"table"`
	Keys  []KeyAttr `json:"keys"`
	// StreamViewType is the source table's stream, recreated by a restore
	// (empty: none).
	StreamViewType string     `json:"stream_view_type,omitempty"`
	SourceRegion   string     `json:"source_region"`
	Created        time.Time  `json:"created"`
	Epoch          int64      `json:"epoch"`
	ItemCount      int64      `json:"item_count"`
	Digest         string     `json:"digest"` // digest.Sum of every item
	ExportFormat   string     `json:"export_format"`
	Files          []DataFile `json:"files"`
	Seconds        float64    `json:"seconds"`
}

// KeyAttr is one key attribute: its name and scalar type (S, N or B).
type KeyAttr struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// KeyNames lists the key attribute names, hash key first.
func (m *Manifest) KeyNames() []string {
	out := make([]string, len(m.Keys))
	for i, k := range m.Keys {
		out[i] = k.Name
	}
	return out
}

// DataFile is one gzipped DynamoDB-JSON-lines file of the snapshot.
type DataFile struct {
	Key    string `json:"key"` // object key, relative to the snapshot's prefix
	Items  int64  `json:"items"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Check names what is wrong with a manifest read from outside.
func (m *Manifest) Check() error {
	switch {
	case m.Format != Format:
		return fmt.Errorf("format %q: want %q (a snapshot written by pilotlight)", m.Format, Format)
	case m.ID == "" || m.Table == "":
		return errors.New("no id or table")
	case len(m.Keys) == 0 || len(m.Keys) > 2:
		return fmt.Errorf("%d key attributes: want 1 or 2", len(m.Keys))
	}
	for _, k := range m.Keys {
		if k.Type != "S" && k.Type != "N" && k.Type != "B" {
			return fmt.Errorf("key %s has type %q: want S, N or B", k.Name, k.Type)
		}
	}
	sum, err := digest.ParseSum(m.Digest)
	if err != nil {
		return err
	}
	var n int64
	for _, f := range m.Files {
		n += f.Items
	}
	if n != m.ItemCount || sum.Count != m.ItemCount {
		return fmt.Errorf("item count %d, but the files hold %d and the digest %d", m.ItemCount, n, sum.Count)
	}
	return nil
}

// fileWriter writes one gzipped DynamoDB-JSON-lines file in memory.
type fileWriter struct {
	buf   bytes.Buffer
	gz    *gzip.Writer
	items int64
	line  []byte
}

func newFileWriter() *fileWriter {
	w := &fileWriter{}
	w.gz, _ = gzip.NewWriterLevel(&w.buf, gzip.BestSpeed) // the level is valid
	return w
}

// add writes {"Item":{...}}\n, as DynamoDB's export does.
func (w *fileWriter) add(it digest.Item) error {
	w.line = append(w.line[:0], `{"Item":`...)
	w.line = AppendItemJSON(w.line, it)
	w.line = append(w.line, "}\n"...)
	w.items++
	_, err := w.gz.Write(w.line)
	return err
}

// close finishes the gzip stream and returns the bytes and their sha256.
func (w *fileWriter) close() ([]byte, string, error) {
	if err := w.gz.Close(); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(w.buf.Bytes())
	return w.buf.Bytes(), hex.EncodeToString(sum[:]), nil
}

// FileError is a problem in a snapshot's data file, at a line when known.
type FileError struct {
	File string
	Line int64
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("snapshot file %s, line %d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("snapshot file %s: %v", e.File, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// maxLine bounds one line: a 400 KB item in DynamoDB JSON with base64
// binaries stays well under it.
const maxLine = 4 << 20

// ReadFile reads one gzipped DynamoDB-JSON-lines file, calling fn with each
// item. It checks the file's sha256 and item count against want when they
// are set; a truncated or corrupt file is a *FileError naming the file and
// the line. fn sees items before the whole file is checked: callers that
// write them must undo on error.
func ReadFile(name string, r io.Reader, want *DataFile, fn func(digest.Item) error) error {
	h := sha256.New()
	zr, err := gzip.NewReader(io.TeeReader(r, h))
	if err != nil {
		return &FileError{File: name, Err: fmt.Errorf("not gzip: %w", err)}
	}
	zr.Multistream(false)
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var line, items int64
	// A bad line that is the last thing before a read error is the
	// truncation showing, not a bad item: say so.
	bad := func(err error) error {
		if !sc.Scan() && sc.Err() != nil && !errors.Is(sc.Err(), bufio.ErrTooLong) {
			return &FileError{File: name, Line: line, Err: fmt.Errorf("truncated or corrupt: %w", sc.Err())}
		}
		return &FileError{File: name, Line: line, Err: err}
	}
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var wrap struct {
			Item json.RawMessage `json:"Item"`
		}
		if err := strictUnmarshal(b, &wrap); err != nil || wrap.Item == nil {
			return bad(errors.New(`want {"Item": {...}} on every line`))
		}
		it, err := ParseItemJSON(wrap.Item)
		if err != nil {
			return bad(err)
		}
		items++
		if err := fn(it); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &FileError{File: name, Line: line + 1, Err: fmt.Errorf("line longer than %d bytes", maxLine)}
		}
		return &FileError{File: name, Line: line + 1, Err: fmt.Errorf("truncated or corrupt: %w", err)}
	}
	// Drain what the gzip reader did not need, so the digest covers the file.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return &FileError{File: name, Err: err}
	}
	if want != nil {
		if got := hex.EncodeToString(h.Sum(nil)); want.SHA256 != "" && got != want.SHA256 {
			return &FileError{File: name, Err: fmt.Errorf("sha256 %s, the manifest says %s: the file changed or is damaged", got[:12], short(want.SHA256))}
		}
		if want.Items != items {
			return &FileError{File: name, Err: fmt.Errorf("%d items, the manifest says %d", items, want.Items)}
		}
	}
	return nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
