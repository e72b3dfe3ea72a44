package region

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// BucketCreator is the part of the S3 API CreateBucket uses.
type BucketCreator interface {
	CreateBucket(context.Context, *s3.CreateBucketInput, ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
}

// ErrBucketTaken is a bucket name another account owns: names are global.
var ErrBucketTaken = errors.New("the bucket name belongs to another account")

// CreateBucket makes bucket in regionName (with the location constraint S3
// wants outside us-east-1). One this account owns already counts as made;
// one another account owns is ErrBucketTaken.
func CreateBucket(ctx context.Context, c BucketCreator, bucket, regionName string) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if regionName != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(regionName)}
	}
	_, err := c.CreateBucket(ctx, in)
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	switch {
	case errors.As(err, &owned):
		return nil
	case errors.As(err, &exists):
		return ErrBucketTaken
	}
	return err
}
