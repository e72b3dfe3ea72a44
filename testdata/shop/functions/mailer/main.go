// Command mailer is the shop example's mailer: a Lambda function that
// writes to its table directly, without the guard package. An application
// with a writer like it gets the kill-switch tier at most: pilotlight can
// stop the function in the fenced region, not refuse its writes one by one.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

type event struct {
	User string `json:"user"`
}

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		panic(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	lambda.Start(func(ctx context.Context, e event) error {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("shop-users"),
			Key:                       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: e.User}},
			UpdateExpression:          aws.String("SET last_mailed = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339)}}})
		return err
	})
}
