package validate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/internal/region"
	"github.com/pilotlight/pilotlight/internal/validate/verdict"
)

// ObjectSide is one region's protected bucket.
type ObjectSide struct {
	S3     *s3.Client
	Bucket string
}

// objectState is what a bucket says about one key.
type objectState struct {
	current string   // ETag of the latest version, "" when deleted
	etags   []string // every version's ETag, sorted
	newest  time.Time
}

func (a objectState) same(b objectState) bool {
	return a.current == b.current && slices.Equal(a.etags, b.etags)
}

func listObjects(ctx context.Context, side *ObjectSide) (map[string]*objectState, error) {
	out := map[string]*objectState{}
	get := func(k string) *objectState {
		st, ok := out[k]
		if !ok {
			st = &objectState{}
			out[k] = st
		}
		return st
	}
	p := s3.NewListObjectVersionsPaginator(side.S3, &s3.ListObjectVersionsInput{Bucket: aws.String(side.Bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list versions of %s: %w", side.Bucket, err)
		}
		for _, v := range page.Versions {
			k := aws.ToString(v.Key)
			if strings.HasPrefix(k, region.CanaryPrefix) {
				continue
			}
			st := get(k)
			etag := strings.Trim(aws.ToString(v.ETag), `"`)
			st.etags = append(st.etags, etag)
			if aws.ToBool(v.IsLatest) {
				st.current = etag
			}
			if t := aws.ToTime(v.LastModified); t.After(st.newest) {
				st.newest = t
			}
		}
		for _, m := range page.DeleteMarkers {
			k := aws.ToString(m.Key)
			if strings.HasPrefix(k, region.CanaryPrefix) {
				continue
			}
			st := get(k)
			if t := aws.ToTime(m.LastModified); t.After(st.newest) {
				st.newest = t
			}
		}
	}
	for _, st := range out {
		sort.Strings(st.etags)
	}
	return out, nil
}

func (v *Validator) compareObjects(ctx context.Context) (*verdict.ObjectReport, error) {
	var pm, dm map[string]*objectState
	var perr, derr error
	var wg sync.WaitGroup
	wg.Go(func() { pm, perr = listObjects(ctx, v.Primary.Objects) })
	wg.Go(func() { dm, derr = listObjects(ctx, v.DR.Objects) })
	wg.Wait()
	if perr != nil {
		return nil, fmt.Errorf("%s: %w", v.Primary.Region, perr)
	}
	if derr != nil {
		return nil, fmt.Errorf("%s: %w", v.DR.Region, derr)
	}
	cutoff := v.Now().Add(-v.Settle)
	if v.Settle < 0 {
		cutoff = v.Now().Add(time.Hour)
	}
	r := &verdict.ObjectReport{Keys: map[string]int{v.Primary.Region: live(pm), v.DR.Region: live(dm)}}
	keys := make([]string, 0, len(pm)+len(dm))
	for k := range pm {
		keys = append(keys, k)
	}
	for k := range dm {
		if _, ok := pm[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, d := pm[k], dm[k]
		var zero objectState
		if p == nil {
			p = &zero
		}
		if d == nil {
			d = &zero
		}
		if p.same(*d) {
			continue
		}
		if p.newest.After(cutoff) || d.newest.After(cutoff) {
			r.Settling++
			continue
		}
		switch {
		case d.current == "" && p.current != "":
			r.MissingInDR.Add(k, v.Samples)
		case p.current == "" && d.current != "":
			r.MissingInPrimary.Add(k, v.Samples)
		default:
			r.Divergent.Add(k, v.Samples)
		}
	}
	return r, nil
}

// live counts keys whose latest version is not a delete marker.
func live(m map[string]*objectState) int {
	n := 0
	for _, st := range m {
		if st.current != "" {
			n++
		}
	}
	return n
}
