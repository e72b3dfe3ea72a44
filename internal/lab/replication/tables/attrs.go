package tables

import (
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
