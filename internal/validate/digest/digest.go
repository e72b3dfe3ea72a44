package digest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// Hash is the digest of one item's canonical encoding.
type Hash [sha256.Size]byte

// Sum is an order-independent digest of a set of items: their count and the
// XOR of their hashes. Sums of disjoint sets combine with Add, so segments
// scanned in parallel, or in separate invocations, merge into the digest of
// the whole table. Keys are unique within a table, so no item can cancel
// itself out.
type Sum struct {
	Count int64 `json:"count"`
	XOR   Hash  `json:"-"`
}

// AddItem folds one item hash into the sum.
func (s *Sum) AddItem(h Hash) {
	s.Count++
	for i := range h {
		s.XOR[i] ^= h[i]
	}
}

// Add folds another sum into this one.
func (s *Sum) Add(o Sum) {
	s.Count += o.Count
	for i := range o.XOR {
		s.XOR[i] ^= o.XOR[i]
	}
}

// String renders the sum as "<count>:<hex>", the form manifests store.
func (s Sum) String() string { return fmt.Sprintf("%d:%s", s.Count, hex.EncodeToString(s.XOR[:])) }

// ParseSum reads the form String writes.
func ParseSum(s string) (Sum, error) {
	count, hx, ok := strings.Cut(s, ":")
	var out Sum
	if !ok {
		return out, fmt.Errorf("digest %q: want <count>:<64 hex digits>", s)
	}
	if _, err := fmt.Sscanf(count, "%d", &out.Count); err != nil || out.Count < 0 {
		return out, fmt.Errorf("digest %q: bad item count", s)
	}
	b, err := hex.DecodeString(hx)
	if err != nil || len(b) != len(out.XOR) {
		return out, fmt.Errorf("digest %q: want 64 hex digits after the count", s)
	}
	copy(out.XOR[:], b)
	return out, nil
}

// Hasher computes item hashes and bucket numbers for one table's key schema.
// It reuses a buffer, so each goroutine needs its own.
type Hasher struct {
	Keys    []string // key attribute names, hash key first
	Buckets int
	buf     []byte
}

// Item returns the item's hash and its bucket, chosen from its key alone so
// that the same key lands in the same bucket in both regions.
func (h *Hasher) Item(item Item) (Hash, int) {
	hash, bucket, _ := h.item(item, nil, false)
	return hash, bucket
}

// ItemKey is Item that also appends the item's canonical key to into (the
// one-pass diff keeps it) and returns it.
func (h *Hasher) ItemKey(item Item, into []byte) (Hash, int, []byte) {
	return h.item(item, into, true)
}

func (h *Hasher) item(item Item, into []byte, keep bool) (Hash, int, []byte) {
	h.buf = AppendKey(h.buf[:0], item, h.Keys)
	if keep {
		into = append(into, h.buf...)
	}
	kh := sha256.Sum256(h.buf)
	bucket := 0
	if h.Buckets > 1 {
		bucket = int(binary.BigEndian.Uint64(kh[:8]) % uint64(h.Buckets))
	}
	h.buf = AppendCanonical(h.buf[:0], item)
	return sha256.Sum256(h.buf), bucket, into
}

// Digests are the per-bucket sums of one table.
type Digests []Sum

// Total folds every bucket into one sum: the table's digest, independent of
// the bucket count.
func (d Digests) Total() Sum {
	var t Sum
	for _, s := range d {
		t.Add(s)
	}
	return t
}

// Merge adds o bucket by bucket; both must have the same bucket count.
func (d Digests) Merge(o Digests) error {
	if len(d) != len(o) {
		return fmt.Errorf("merge digests: %d buckets and %d buckets (use the same --buckets everywhere)", len(d), len(o))
	}
	for i := range o {
		d[i].Add(o[i])
	}
	return nil
}

// MarshalText stores the digests compactly for partial results: one
// "<count>:<hex>" per bucket, comma separated.
func (d Digests) MarshalText() ([]byte, error) {
	parts := make([]string, len(d))
	for i, s := range d {
		parts[i] = s.String()
	}
	return []byte(strings.Join(parts, ",")), nil
}

// UnmarshalText reads what MarshalText wrote.
func (d *Digests) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = nil
		return nil
	}
	parts := strings.Split(string(b), ",")
	out := make(Digests, len(parts))
	for i, p := range parts {
		s, err := ParseSum(p)
		if err != nil {
			return fmt.Errorf("bucket %d: %w", i, err)
		}
		out[i] = s
	}
	*d = out
	return nil
}
