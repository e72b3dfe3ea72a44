// Command carts is the shop example's cart service: a Lambda function
// whose writes go through pilotlight's guard package, so the application
// gets the epoch-guard tier — a region that does not hold the lease
// refuses (503, naming the region that does), and a write checked before
// a failover cannot land after it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/guard"
)

type line struct {
	User string `json:"user"`
	Line int    `json:"line"`
	SKU  string `json:"sku"`
	Qty  int    `json:"qty"`
}

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		panic(err)
	}
	// The control table and the lease are what `pilotlight protect apply`
	// set on this function (and on its DR copy).
	gcfg, err := guard.ConfigFromEnv(os.Getenv, dynamodb.NewFromConfig(cfg))
	if err != nil {
		panic(err)
	}
	g, err := guard.New(gcfg)
	if err != nil {
		panic(err)
	}
	lambda.Start(func(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		var l line
		if err := json.Unmarshal([]byte(req.Body), &l); err != nil || l.User == "" {
			return events.LambdaFunctionURLResponse{StatusCode: http.StatusBadRequest, Body: "want {\"user\":…,\"line\":…,\"sku\":…,\"qty\":…}"}, nil
		}
		err := g.Put(ctx, &dynamodb.PutItemInput{TableName: aws.String("shop-carts"), Item: map[string]types.AttributeValue{
			"user": &types.AttributeValueMemberS{Value: l.User},
			"line": &types.AttributeValueMemberN{Value: strconv.Itoa(l.Line)},
			"sku":  &types.AttributeValueMemberS{Value: l.SKU},
			"qty":  &types.AttributeValueMemberN{Value: strconv.Itoa(l.Qty)},
		}})
		var f *guard.Fenced
		switch {
		case errors.As(err, &f):
			return events.LambdaFunctionURLResponse{StatusCode: http.StatusServiceUnavailable, Body: f.Error(), Headers: map[string]string{"X-Active-Region": f.Active}}, nil
		case err != nil:
			return events.LambdaFunctionURLResponse{StatusCode: http.StatusInternalServerError, Body: err.Error()}, nil
		}
		return events.LambdaFunctionURLResponse{StatusCode: http.StatusCreated}, nil
	})
}
