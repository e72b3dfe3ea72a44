package validate

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	sttypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

// FromStream converts a stream image to the DynamoDB API's attribute types:
// the two SDK packages model the same wire format with distinct types.
func FromStream(in map[string]sttypes.AttributeValue) digest.Item {
	if in == nil {
		return nil
	}
	out := make(digest.Item, len(in))
	for k, v := range in {
		out[k] = streamValue(v)
	}
	return out
}

func streamValue(v sttypes.AttributeValue) types.AttributeValue {
	switch x := v.(type) {
	case *sttypes.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: x.Value}
	case *sttypes.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: x.Value}
	case *sttypes.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: x.Value}
	case *sttypes.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: x.Value}
	case *sttypes.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: x.Value}
	case *sttypes.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: x.Value}
	case *sttypes.AttributeValueMemberNS:
		return &types.AttributeValueMemberNS{Value: x.Value}
	case *sttypes.AttributeValueMemberBS:
		return &types.AttributeValueMemberBS{Value: x.Value}
	case *sttypes.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = streamValue(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	case *sttypes.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: FromStream(x.Value)}
	}
	return &types.AttributeValueMemberNULL{Value: true}
}
