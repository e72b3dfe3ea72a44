package backup

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

// AppendItemJSON appends an item as DynamoDB JSON ({"pk":{"S":"a"},...}),
// attributes in name order so that equal items give equal bytes.
// Replication bookkeeping (digest.Ignored) is left out.
func AppendItemJSON(dst []byte, it digest.Item) []byte {
	names := make([]string, 0, len(it))
	for k := range it {
		if !digest.Ignored(k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	dst = append(dst, '{')
	for i, k := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendValueJSON(dst, it[k])
	}
	return append(dst, '}')
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

func appendStrings(dst []byte, tag string, ss []string) []byte {
	dst = append(dst, `{"`+tag+`":[`...)
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, "]}"...)
}

func appendValueJSON(dst []byte, v types.AttributeValue) []byte {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return append(appendString(append(dst, `{"S":`...), x.Value), '}')
	case *types.AttributeValueMemberN:
		return append(appendString(append(dst, `{"N":`...), x.Value), '}')
	case *types.AttributeValueMemberB:
		return append(appendString(append(dst, `{"B":`...), base64.StdEncoding.EncodeToString(x.Value)), '}')
	case *types.AttributeValueMemberBOOL:
		if x.Value {
			return append(dst, `{"BOOL":true}`...)
		}
		return append(dst, `{"BOOL":false}`...)
	case *types.AttributeValueMemberNULL:
		return append(dst, `{"NULL":true}`...)
	case *types.AttributeValueMemberSS:
		return appendStrings(dst, "SS", x.Value)
	case *types.AttributeValueMemberNS:
		return appendStrings(dst, "NS", x.Value)
	case *types.AttributeValueMemberBS:
		ss := make([]string, len(x.Value))
		for i, b := range x.Value {
			ss[i] = base64.StdEncoding.EncodeToString(b)
		}
		return appendStrings(dst, "BS", ss)
	case *types.AttributeValueMemberL:
		dst = append(dst, `{"L":[`...)
		for i, e := range x.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValueJSON(dst, e)
		}
		return append(dst, "]}"...)
	case *types.AttributeValueMemberM:
		return append(AppendItemJSON(append(dst, `{"M":`...), x.Value), '}')
	}
	return append(dst, `{"NULL":true}`...)
}

// maxDepth bounds nesting as DynamoDB does (32 levels).
const maxDepth = 32

// ParseItemJSON reads one item in DynamoDB JSON, strictly: every value has
// exactly one type, numbers are numbers, binaries are base64, sets are not
// empty and hold no duplicates. Replication bookkeeping is dropped.
func ParseItemJSON(b []byte) (digest.Item, error) {
	var raw map[string]json.RawMessage
	if err := strictUnmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("not a DynamoDB JSON item: %w", err)
	}
	if raw == nil {
		return nil, fmt.Errorf("not a DynamoDB JSON item: null")
	}
	return parseMap(raw, 0)
}

func parseMap(raw map[string]json.RawMessage, depth int) (digest.Item, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	out := make(digest.Item, len(raw))
	for k, v := range raw {
		if digest.Ignored(k) {
			continue
		}
		if k == "" {
			return nil, fmt.Errorf("empty attribute name")
		}
		av, err := parseValue(v, depth)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data after the value")
	}
	return nil
}

func parseValue(b json.RawMessage, depth int) (types.AttributeValue, error) {
	var typed map[string]json.RawMessage
	if err := strictUnmarshal(b, &typed); err != nil || typed == nil {
		return nil, fmt.Errorf("want an object with one type key such as {\"S\": ...}")
	}
	if len(typed) != 1 {
		keys := make([]string, 0, len(typed))
		for k := range typed {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return nil, fmt.Errorf("want exactly one type key, got %d (%s)", len(typed), strings.Join(keys, ", "))
	}
	for tag, v := range typed {
		switch tag {
		case "S":
			var s string
			if err := strictUnmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("S: want a string")
			}
			return &types.AttributeValueMemberS{Value: s}, nil
		case "N":
			n, err := parseNumber(v)
			if err != nil {
				return nil, err
			}
			return &types.AttributeValueMemberN{Value: n}, nil
		case "B":
			bin, err := parseBinary(v)
			if err != nil {
				return nil, err
			}
			return &types.AttributeValueMemberB{Value: bin}, nil
		case "BOOL":
			var x bool
			if err := strictUnmarshal(v, &x); err != nil {
				return nil, fmt.Errorf("BOOL: want true or false")
			}
			return &types.AttributeValueMemberBOOL{Value: x}, nil
		case "NULL":
			var x bool
			if err := strictUnmarshal(v, &x); err != nil || !x {
				return nil, fmt.Errorf("NULL: want true")
			}
			return &types.AttributeValueMemberNULL{Value: true}, nil
		case "SS", "NS", "BS":
			var ss []string
			if err := strictUnmarshal(v, &ss); err != nil || ss == nil {
				return nil, fmt.Errorf("%s: want an array of strings", tag)
			}
			if len(ss) == 0 {
				return nil, fmt.Errorf("%s: a set cannot be empty", tag)
			}
			return parseSet(tag, ss)
		case "L":
			var l []json.RawMessage
			if err := strictUnmarshal(v, &l); err != nil || l == nil {
				return nil, fmt.Errorf("L: want an array")
			}
			if depth+1 > maxDepth {
				return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
			}
			out := make([]types.AttributeValue, len(l))
			for i, e := range l {
				av, err := parseValue(e, depth+1)
				if err != nil {
					return nil, fmt.Errorf("L[%d]: %w", i, err)
				}
				out[i] = av
			}
			return &types.AttributeValueMemberL{Value: out}, nil
		case "M":
			var m map[string]json.RawMessage
			if err := strictUnmarshal(v, &m); err != nil || m == nil {
				return nil, fmt.Errorf("M: want an object")
			}
			it, err := parseMap(m, depth+1)
			if err != nil {
				return nil, fmt.Errorf("M: %w", err)
			}
			return &types.AttributeValueMemberM{Value: it}, nil
		default:
			return nil, fmt.Errorf("unknown type %q: want one of S, N, B, BOOL, NULL, SS, NS, BS, L, M", tag)
		}
	}
	panic("unreachable")
}

func parseNumber(v json.RawMessage) (string, error) {
	var s string
	if err := strictUnmarshal(v, &s); err != nil {
		return "", fmt.Errorf("N: want the number as a string, e.g. {\"N\": \"12.5\"}")
	}
	if strings.HasPrefix(digest.NormalizeNumber(s), "?") {
		return "", fmt.Errorf("N: %q is not a number", s)
	}
	return s, nil
}

func parseBinary(v json.RawMessage) ([]byte, error) {
	var s string
	if err := strictUnmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("B: want a base64 string")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("B: not base64: %w", err)
	}
	return b, nil
}

func parseSet(tag string, ss []string) (types.AttributeValue, error) {
	seen := make(map[string]bool, len(ss))
	for _, s := range ss {
		k := s
		if tag == "NS" {
			if strings.HasPrefix(digest.NormalizeNumber(s), "?") {
				return nil, fmt.Errorf("NS: %q is not a number", s)
			}
			k = digest.NormalizeNumber(s)
		}
		if seen[k] {
			return nil, fmt.Errorf("%s: duplicate member %q", tag, s)
		}
		seen[k] = true
	}
	switch tag {
	case "SS":
		return &types.AttributeValueMemberSS{Value: ss}, nil
	case "NS":
		return &types.AttributeValueMemberNS{Value: ss}, nil
	}
	out := make([][]byte, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("BS: member %d is not base64: %w", i, err)
		}
		out[i] = b
	}
	// Distinct base64 spellings can decode to the same bytes.
	bseen := map[string]bool{}
	for _, b := range out {
		if bseen[string(b)] {
			return nil, fmt.Errorf("BS: duplicate member")
		}
		bseen[string(b)] = true
	}
	return &types.AttributeValueMemberBS{Value: out}, nil
}
