package backup

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

func sampleItem() digest.Item {
	return digest.Item{
		"pk":    &types.AttributeValueMemberS{Value: "order#1 \"quoted\" ü"},
		"n":     &types.AttributeValueMemberN{Value: "-12.50e3"},
		"b":     &types.AttributeValueMemberB{Value: []byte{0, 1, 255}},
		"t":     &types.AttributeValueMemberBOOL{Value: true},
		"f":     &types.AttributeValueMemberBOOL{Value: false},
		"null":  &types.AttributeValueMemberNULL{Value: true},
		"ss":    &types.AttributeValueMemberSS{Value: []string{"b", "a"}},
		"ns":    &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"bs":    &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}},
		"l":     &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberM{Value: digest.Item{"deep": &types.AttributeValueMemberN{Value: "1"}}}}},
		"m":     &types.AttributeValueMemberM{Value: digest.Item{}},
		"empty": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		// dropped: replication bookkeeping
		"pilotlight:rep:version": &types.AttributeValueMemberS{Value: "1@us-east-1"},
	}
}

func TestItemJSONRoundTrip(t *testing.T) {
	in := sampleItem()
	b := AppendItemJSON(nil, in)
	if bytes.Contains(b, []byte("pilotlight:rep")) {
		t.Fatalf("replication stamp written: %s", b)
	}
	out, err := ParseItemJSON(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if string(digest.AppendCanonical(nil, in)) != string(digest.AppendCanonical(nil, out)) {
		t.Fatalf("round trip changed the item:\n%s", b)
	}
	if _, ok := out["pilotlight:rep:version"]; ok {
		t.Fatal("replication stamp survived")
	}
	if again := AppendItemJSON(nil, out); !bytes.Equal(again, b) {
		t.Fatalf("not deterministic:\n%s\n%s", b, again)
	}
}

func TestParseItemJSONErrors(t *testing.T) {
	cases := map[string]string{
		`{"a":{"S":"x","N":"1"}}`:  "exactly one type key",
		`{"a":{"N":"abc"}}`:        `"abc" is not a number`,
		`{"a":{"N":12}}`:           "number as a string",
		`{"a":{"B":"!!"}}`:         "not base64",
		`{"a":{"SS":[]}}`:          "cannot be empty",
		`{"a":{"NS":["1","1.0"]}}`: "duplicate member",
		`{"a":{"X":"1"}}`:          `unknown type "X"`,
		`{"a":{"NULL":false}}`:     "NULL: want true",
		`{"a":"plain"}`:            "one type key",
		`[1,2]`:                    "not a DynamoDB JSON item",
		`{"a":{"L":[{"S":1}]}}`:    "L[0]",
		`{"a":{"S":"x"}} junk`:     "trailing data",
	}
	for in, want := range cases {
		_, err := ParseItemJSON([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseItemJSON(%s) = %v, want an error containing %q", in, err, want)
		}
	}
	deep := strings.Repeat(`{"L":[`, 40) + `{"S":"x"}` + strings.Repeat(`]}`, 40)
	if _, err := ParseItemJSON([]byte(`{"a":` + deep + `}`)); err == nil || !strings.Contains(err.Error(), "deeper than") {
		t.Errorf("deep nesting: %v", err)
	}
}

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestReadFileErrorsNameFileAndLine(t *testing.T) {
	good := `{"Item":{"pk":{"S":"a"}}}` + "\n" + `{"Item":{"pk":{"S":"b"}}}` + "\n"
	var n int
	if err := ReadFile("f", bytes.NewReader(gz(t, good)), &DataFile{Items: 2}, func(digest.Item) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("good file: %v, %d items", err, n)
	}
	full := gz(t, good+strings.Repeat(`{"Item":{"pk":{"S":"c"}}}`+"\n", 1000))
	cases := []struct {
		name string
		data []byte
		want *DataFile
		line int64
		msg  string
	}{
		{"bad line", gz(t, good+`{"Item":{"pk":{"N":"x"}}}`+"\n"), nil, 3, "not a number"},
		{"not an item", gz(t, `{"pk":{"S":"a"}}`+"\n"), nil, 1, `want {"Item"`},
		{"truncated", full[:len(full)/2], nil, 0, "truncated or corrupt"},
		{"not gzip", []byte("plain text"), nil, 0, "not gzip"},
		{"count", gz(t, good), &DataFile{Items: 3}, 0, "the manifest says 3"},
		{"checksum", gz(t, good), &DataFile{Items: 2, SHA256: strings.Repeat("0", 64)}, 0, "sha256"},
	}
	for _, c := range cases {
		err := ReadFile("data/0001-0000.json.gz", bytes.NewReader(c.data), c.want, func(digest.Item) error { return nil })
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Errorf("%s: err = %v, want a FileError", c.name, err)
			continue
		}
		if fe.File != "data/0001-0000.json.gz" || !strings.Contains(err.Error(), c.msg) || (c.line > 0 && fe.Line != c.line) {
			t.Errorf("%s: %v (line %d), want line %d and %q", c.name, err, fe.Line, c.line, c.msg)
		}
	}
}

// FuzzReadFile: any bytes are read without panicking; what is accepted
// writes back and reads again as the same items.
func FuzzReadFile(f *testing.F) {
	f.Add(gz(f, `{"Item":{"pk":{"S":"a"},"n":{"N":"1"}}}`+"\n"))
	f.Add(gz(f, `{"Item":{"pk":{"S":"a"},"l":{"L":[{"M":{"x":{"BS":["AQ=="]}}}]}}}`+"\n"))
	f.Add([]byte(`{"Item":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var items []digest.Item
		err := ReadFile("fuzz", bytes.NewReader(data), nil, func(it digest.Item) error { items = append(items, it); return nil })
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error is not a FileError: %v", err)
			}
			return
		}
		w := newFileWriter()
		for _, it := range items {
			if err := w.add(it); err != nil {
				t.Fatal(err)
			}
		}
		body, _, err := w.close()
		if err != nil {
			t.Fatal(err)
		}
		var again []digest.Item
		if err := ReadFile("again", bytes.NewReader(body), &DataFile{Items: int64(len(items))}, func(it digest.Item) error { again = append(again, it); return nil }); err != nil {
			t.Fatalf("rewritten file unreadable: %v", err)
		}
		for i := range items {
			if string(digest.AppendCanonical(nil, items[i])) != string(digest.AppendCanonical(nil, again[i])) {
				t.Fatalf("item %d changed on rewrite", i)
			}
		}
	})
}
