package digest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item is a DynamoDB item as the SDK returns it.
type Item map[string]types.AttributeValue

// Type tags of the canonical encoding. Every value starts with one.
const (
	tagS    = 'S'
	tagN    = 'N'
	tagB    = 'B'
	tagTrue = 'T'
	tagFals = 'F'
	tagNULL = '0'
	tagSS   = 's'
	tagNS   = 'n'
	tagBS   = 'b'
	tagL    = 'L'
	tagM    = 'M'
	tagBad  = '?'
)

// Ignored reports whether an attribute is replication bookkeeping rather
// than data: the lab replicator's pilotlight:rep:* stamps and the aws:rep:*
// attributes of the first DynamoDB global tables.
func Ignored(name string) bool {
	return strings.HasPrefix(name, "pilotlight:rep:") || strings.HasPrefix(name, "aws:rep:")
}

// AppendCanonical appends the canonical encoding of an item to dst and
// returns it. Two items encode the same exactly when they hold the same data:
// attributes are ordered by name, numbers are normalised (1, 1.0, 1e0 and
// 10e-1 are one number), set members are ordered, and replication
// bookkeeping (see Ignored) is left out. Lists keep their order.
func AppendCanonical(dst []byte, item Item) []byte {
	names := make([]string, 0, len(item))
	for k := range item {
		if !Ignored(k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	dst = append(dst, tagM)
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, k := range names {
		dst = appendBytes(dst, k)
		dst = appendValue(dst, item[k])
	}
	return dst
}

// AppendKey appends the canonical encoding of an item's key attributes, in
// the order given (hash key first).
func AppendKey(dst []byte, item Item, keys []string) []byte {
	for _, k := range keys {
		dst = appendValue(dst, item[k])
	}
	return dst
}

func appendBytes[T string | []byte](dst []byte, b T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendValue(dst []byte, v types.AttributeValue) []byte {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return appendBytes(append(dst, tagS), x.Value)
	case *types.AttributeValueMemberN:
		return appendBytes(append(dst, tagN), NormalizeNumber(x.Value))
	case *types.AttributeValueMemberB:
		return appendBytes(append(dst, tagB), x.Value)
	case *types.AttributeValueMemberBOOL:
		if x.Value {
			return append(dst, tagTrue)
		}
		return append(dst, tagFals)
	case *types.AttributeValueMemberNULL:
		return append(dst, tagNULL)
	case *types.AttributeValueMemberSS:
		return appendSet(dst, tagSS, x.Value, func(s string) string { return s })
	case *types.AttributeValueMemberNS:
		return appendSet(dst, tagNS, x.Value, NormalizeNumber)
	case *types.AttributeValueMemberBS:
		return appendSet(dst, tagBS, x.Value, func(b []byte) string { return string(b) })
	case *types.AttributeValueMemberL:
		dst = append(dst, tagL)
		dst = binary.AppendUvarint(dst, uint64(len(x.Value)))
		for _, e := range x.Value {
			dst = appendValue(dst, e)
		}
		return dst
	case *types.AttributeValueMemberM:
		return AppendCanonical(dst, x.Value)
	}
	return append(dst, tagBad)
}

func appendSet[T any](dst []byte, tag byte, members []T, form func(T) string) []byte {
	s := make([]string, len(members))
	for i, m := range members {
		s[i] = form(m)
	}
	slices.Sort(s)
	s = slices.Compact(s)
	dst = append(dst, tag)
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	for _, m := range s {
		dst = appendBytes(dst, m)
	}
	return dst
}

// NormalizeNumber returns one spelling for every spelling of a DynamoDB
// number: "0" for zero, otherwise an optional "-", the significant digits
// without leading or trailing zeros, "E" and the exponent of the first digit
// (1.5 → "15E0", 120 → "12E2", 0.001 → "1E-3"). A string that is not a
// number is returned prefixed with "?", so it equals only itself.
func NormalizeNumber(s string) string {
	neg := false
	body := s
	if body != "" && (body[0] == '-' || body[0] == '+') {
		neg = body[0] == '-'
		body = body[1:]
	}
	mant, exp := body, 0
	if i := strings.IndexAny(body, "eE"); i >= 0 {
		mant = body[:i]
		e, err := strconv.Atoi(body[i+1:])
		if err != nil || e > 1<<20 || e < -(1<<20) || body[i+1:] == "" {
			return "?" + s
		}
		exp = e
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return "?" + s
	}
	digits := intPart + frac
	// The value is 0.digits × 10^(len(intPart)+exp).
	point := len(intPart) + exp
	lead := 0
	for lead < len(digits) && digits[lead] == '0' {
		lead++
	}
	if lead == len(digits) {
		return "0"
	}
	digits = digits[lead:]
	point -= lead
	digits = strings.TrimRight(digits, "0")
	var b bytes.Buffer
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(digits)
	b.WriteByte('E')
	b.WriteString(strconv.Itoa(point - 1))
	return b.String()
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// DecodeKey reads back a key AppendKey wrote: key attributes are strings,
// numbers or binaries.
func DecodeKey(b []byte, keys []string) (Item, error) {
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
