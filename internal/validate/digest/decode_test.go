package digest

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A key the one-pass diff kept reads back as the same key; arbitrary bytes
// give an error, never a panic.
func FuzzDecodeKey(f *testing.F) {
	f.Add("u01", "42.50", []byte{0, 1, 2}, []byte(nil))
	f.Add("", "-1e-3", []byte{}, []byte("SX"))
	f.Fuzz(func(t *testing.T, s, n string, b, junk []byte) {
		keys := []string{"s", "n", "b"}
		it := Item{"s": &types.AttributeValueMemberS{Value: s}, "n": &types.AttributeValueMemberN{Value: n}, "b": &types.AttributeValueMemberB{Value: b}}
		enc := AppendKey(nil, it, keys)
		back, err := DecodeKey(enc, keys)
		if err != nil {
			t.Fatalf("decode %q: %v", enc, err)
		}
		if again := AppendKey(nil, back, keys); !bytes.Equal(again, enc) {
			t.Fatalf("round trip: %q → %q", enc, again)
		}
		_, _ = DecodeKey(junk, keys)
	})
}
