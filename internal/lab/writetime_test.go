package lab

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestWrittenKeys(t *testing.T) {
	f := &writeFront{table: "t", keys: []string{"pk"}}
	id := func(v string) string { return keyID(item{"pk": &dbtypes.AttributeValueMemberS{Value: v}}) }
	tests := []struct {
		name, op, body string
		want           []string
	}{
		{"put", "PutItem", `{"TableName":"t","Item":{"pk":{"S":"a"},"x":{"N":"1"}}}`, []string{id("a")}},
		{"other table", "PutItem", `{"TableName":"u","Item":{"pk":{"S":"a"}}}`, nil},
		{"update", "UpdateItem", `{"TableName":"t","Key":{"pk":{"S":"b"}}}`, []string{id("b")}},
		{"delete", "DeleteItem", `{"TableName":"t","Key":{"pk":{"S":"c"}}}`, []string{id("c")}},
		{"batch", "BatchWriteItem", `{"RequestItems":{"t":[{"PutRequest":{"Item":{"pk":{"S":"d"}}}},{"DeleteRequest":{"Key":{"pk":{"S":"e"}}}}],"u":[{"PutRequest":{"Item":{"pk":{"S":"z"}}}}]}}`, []string{id("d"), id("e")}},
		{"transaction", "TransactWriteItems", `{"TransactItems":[{"ConditionCheck":{"TableName":"t","Key":{"pk":{"S":"no"}}}},{"Put":{"TableName":"t","Item":{"pk":{"S":"f"}}}},{"Update":{"TableName":"t","Key":{"pk":{"S":"g"}}}}]}`, []string{id("f"), id("g")}},
		{"number key", "PutItem", `{"TableName":"t","Item":{"pk":{"N":"7"}}}`, []string{keyID(item{"pk": &dbtypes.AttributeValueMemberN{Value: "7"}})}},
		{"binary key", "PutItem", `{"TableName":"t","Item":{"pk":{"B":"AQI="}}}`, []string{keyID(item{"pk": &dbtypes.AttributeValueMemberB{Value: []byte{1, 2}}})}},
		{"no key", "PutItem", `{"TableName":"t","Item":{"x":{"S":"a"}}}`, nil},
		{"not json", "PutItem", `{`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := f.writtenKeys(tc.op, []byte(tc.body))
			if len(got) != len(tc.want) {
				t.Fatalf("keys %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("keys %q, want %q", got, tc.want)
				}
			}
		})
	}
}

// FuzzWrittenKeys: any request body, however malformed, is read without a
// panic, and a PutItem of a string key always yields that key.
func FuzzWrittenKeys(f *testing.F) {
	f.Add("PutItem", `{"TableName":"t","Item":{"pk":{"S":"a"}}}`, "a")
	f.Add("TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"t","Item":{"pk":{"B":"%%"}}}}]}`, "")
	f.Add("BatchWriteItem", `{"RequestItems":{"t":[{"PutRequest":null}]}}`, "x")
	front := &writeFront{table: "t", keys: []string{"pk"}}
	f.Fuzz(func(t *testing.T, op, body, key string) {
		front.writtenKeys(op, []byte(body))
		if !utf8.ValidString(key) {
			return // DynamoDB strings are UTF-8
		}
		b, _ := json.Marshal(map[string]any{"TableName": "t", "Item": map[string]any{"pk": map[string]string{"S": key}}})
		got := front.writtenKeys("PutItem", b)
		if want := keyID(item{"pk": &dbtypes.AttributeValueMemberS{Value: key}}); len(got) != 1 || got[0] != want {
			t.Fatalf("PutItem of %q: keys %q", key, got)
		}
	})
}
