package objects

import (
	"errors"
	"sort"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

func sortVersions(v []srcVersion) {
	// Listings are newest first per key, versions and delete markers apart;
	// order by time, and within the same time by reversed listing order.
	sort.SliceStable(v, func(i, j int) bool {
		if v[i].key != v[j].key {
			return v[i].key < v[j].key
		}
		// versitygw's version IDs are ULIDs: their first ten characters are
		// the creation time in milliseconds. LastModified is not good enough:
		// versions carry whole seconds and delete markers microseconds, so a
		// put and the marker after it can sort either way.
		if ti, tj := ulidTime(v[i].id), ulidTime(v[j].id); ti != "" && tj != "" && ti != tj {
			return ti < tj
		}
		// The latest of a key is the newest, whatever the times say.
		if v[i].latest != v[j].latest {
			return v[j].latest
		}
		if !v[i].modified.Equal(v[j].modified) {
			return v[i].modified.Before(v[j].modified)
		}
		return v[i].order > v[j].order
	})
}

// ulidTime is the time part of a ULID version ID ("" when id is not one).
func ulidTime(id string) string {
	if len(id) != 26 {
		return ""
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return ""
		}
	}
	return id[:10]
}

// isStatus reports whether err is an HTTP answer with status code.
func isStatus(err error, code int) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == code
}
