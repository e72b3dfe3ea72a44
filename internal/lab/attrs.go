package lab

import (
	"bytes"
	"errors"
	"sort"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	sttypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// fromStreamItem converts a stream image to the DynamoDB API's attribute
// types: the two SDK packages model the same wire format with distinct types.
func fromStreamItem(in map[string]sttypes.AttributeValue) item {
	if in == nil {
		return nil
	}
	out := make(item, len(in))
	for k, v := range in {
		out[k] = fromStreamValue(v)
	}
	return out
}

func fromStreamValue(v sttypes.AttributeValue) dbtypes.AttributeValue {
	switch x := v.(type) {
	case *sttypes.AttributeValueMemberS:
		return &dbtypes.AttributeValueMemberS{Value: x.Value}
	case *sttypes.AttributeValueMemberN:
		return &dbtypes.AttributeValueMemberN{Value: x.Value}
	case *sttypes.AttributeValueMemberB:
		return &dbtypes.AttributeValueMemberB{Value: x.Value}
	case *sttypes.AttributeValueMemberBOOL:
		return &dbtypes.AttributeValueMemberBOOL{Value: x.Value}
	case *sttypes.AttributeValueMemberNULL:
		return &dbtypes.AttributeValueMemberNULL{Value: x.Value}
	case *sttypes.AttributeValueMemberSS:
		return &dbtypes.AttributeValueMemberSS{Value: x.Value}
	case *sttypes.AttributeValueMemberNS:
		return &dbtypes.AttributeValueMemberNS{Value: x.Value}
	case *sttypes.AttributeValueMemberBS:
		return &dbtypes.AttributeValueMemberBS{Value: x.Value}
	case *sttypes.AttributeValueMemberL:
		l := make([]dbtypes.AttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = fromStreamValue(e)
		}
		return &dbtypes.AttributeValueMemberL{Value: l}
	case *sttypes.AttributeValueMemberM:
		return &dbtypes.AttributeValueMemberM{Value: fromStreamItem(x.Value)}
	}
	return &dbtypes.AttributeValueMemberNULL{Value: true}
}

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

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func isStatus(err error, code int) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == code
}
