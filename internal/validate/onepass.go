package validate

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// records are the items of one segment as the one-pass diff keeps them:
// per item its bucket, its key's canonical bytes (in one arena) and the
// first 16 bytes of its hash — about 40 bytes an item, against a second
// scan of both tables. The digest pass keeps them while both sides together
// stay within Validator.MaxDiffItems; beyond, they are dropped and the
// differing buckets are diffed by a second scan (diffPass), as before.
type records struct {
	bucket []uint32
	end    []uint32 // each key's end offset in arena
	hash   [][16]byte
	arena  []byte
}

// add keeps an item whose key ItemKey has just appended to r.arena.
func (r *records) add(bucket int, h Hash) {
	r.bucket = append(r.bucket, uint32(bucket))
	r.end = append(r.end, uint32(len(r.arena)))
	r.hash = append(r.hash, [16]byte(h[:16]))
}

// keeper hands out one side's per-segment records and drops them all once
// the budget (items, both sides) is spent.
type keeper struct {
	left    *atomic.Int64
	dropped *atomic.Bool
}

// take counts n items against the budget and reports whether they may be
// kept.
func (k keeper) take(n int) bool {
	if k.left == nil || k.dropped.Load() {
		return false
	}
	if k.left.Add(-int64(n)) < 0 {
		k.dropped.Store(true)
		return false
	}
	return true
}

// diffRecords is the diff of the differing buckets from what the digest
// pass kept: no second scan.
func diffRecords(keys []string, buckets []int, primary, dr []*records) ([]candidate, error) {
	want := make(map[uint32]bool, len(buckets))
	for _, b := range buckets {
		want[uint32(b)] = true
	}
	collect := func(side []*records) map[string][16]byte {
		got := map[string][16]byte{}
		for _, r := range side {
			start := uint32(0)
			for i, b := range r.bucket {
				if want[b] {
					got[string(r.arena[start:r.end[i]])] = r.hash[i]
				}
				start = r.end[i]
			}
		}
		return got
	}
	pm, dm := collect(primary), collect(dr)
	var out []candidate
	add := func(k kind, id string) error {
		key, err := decodeKey([]byte(id), keys)
		if err != nil {
			return err
		}
		out = append(out, candidate{k, key, KeyString(key, keys)})
		return nil
	}
	for id, ph := range pm {
		dh, ok := dm[id]
		switch {
		case !ok:
			if err := add(missingInDR, id); err != nil {
				return nil, err
			}
		case dh != ph:
			if err := add(divergent, id); err != nil {
				return nil, err
			}
		}
	}
	for id := range dm {
		if _, ok := pm[id]; !ok {
			if err := add(missingInPrimary, id); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// decodeKey reads back a key AppendKey wrote: key attributes are strings,
// numbers or binaries.
func decodeKey(b []byte, keys []string) (Item, error) {
	it := make(Item, len(keys))
	for _, k := range keys {
		if len(b) == 0 {
			return nil, fmt.Errorf("key %q: truncated", k)
		}
		tag := b[0]
		n, w := binary.Uvarint(b[1:])
		if w <= 0 || uint64(len(b)-1-w) < n {
			return nil, fmt.Errorf("key %q: bad length", k)
		}
		v := b[1+w : 1+w+int(n)]
		b = b[1+w+int(n):]
		switch tag {
		case tagS:
			it[k] = &types.AttributeValueMemberS{Value: string(v)}
		case tagN:
			it[k] = &types.AttributeValueMemberN{Value: numberOf(string(v))}
		case tagB:
			it[k] = &types.AttributeValueMemberB{Value: append([]byte(nil), v...)}
		default:
			return nil, fmt.Errorf("key %q: type %q is not a key type", k, tag)
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("key: %d bytes left over", len(b))
	}
	return it, nil
}

// numberOf spells a NormalizeNumber form as DynamoDB reads it, in plain
// decimals where that is short: "15E0" (digits, and the exponent of the
// first) is 1.5, "12E2" 1200, "1E-3" 0.001; far exponents stay in
// exponent form (0.15E41).
func numberOf(canonical string) string {
	if canonical == "0" || strings.HasPrefix(canonical, "?") {
		return strings.TrimPrefix(canonical, "?")
	}
	sign, body := "", canonical
	if strings.HasPrefix(body, "-") {
		sign, body = "-", body[1:]
	}
	digits, e, ok := strings.Cut(body, "E")
	exp, err := strconv.Atoi(e)
	if !ok || err != nil {
		return canonical
	}
	point := exp + 1 // digits' decimal point, from their start
	switch {
	case point < -40 || point > 40:
		return sign + "0." + digits + "E" + strconv.Itoa(point)
	case point <= 0:
		return sign + "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		return sign + digits + strings.Repeat("0", point-len(digits))
	}
	return sign + digits[:point] + "." + digits[point:]
}
