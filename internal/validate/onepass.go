package validate

import (
	"sync/atomic"

	"github.com/pilotlight/pilotlight/internal/validate/digest"
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
func (r *records) add(bucket int, h digest.Hash) {
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
		key, err := digest.DecodeKey([]byte(id), keys)
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
