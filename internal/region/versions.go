package region

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// VersionDeleter is the part of the S3 API DeleteVersions uses.
type VersionDeleter interface {
	ListObjectVersions(context.Context, *s3.ListObjectVersionsInput, ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

// DeleteVersions permanently removes every object version and delete
// marker under a prefix of a bucket ("" for all of it), 1,000 per request,
// and returns how many it removed. Deleting only current versions would
// leave a versioned bucket full behind delete markers.
func DeleteVersions(ctx context.Context, c VersionDeleter, bucket, prefix string) (int, error) {
	n := 0
	var last s3types.ObjectIdentifier
	// Deleting while paginating would shift the listing: list a page, delete
	// it, list again from the start until nothing is left.
	for {
		page, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1000)})
		if err != nil {
			return n, fmt.Errorf("list versions in s3://%s/%s: %w", bucket, prefix, err)
		}
		var ids []s3types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		if len(ids) == 0 {
			return n, nil
		}
		if aws.ToString(ids[0].Key) == aws.ToString(last.Key) && aws.ToString(ids[0].VersionId) == aws.ToString(last.VersionId) {
			return n, fmt.Errorf("s3://%s/%s version %s is still there after it was deleted", bucket, aws.ToString(last.Key), aws.ToString(last.VersionId))
		}
		last = ids[0]
		for start := 0; start < len(ids); start += 1000 {
			batch := ids[start:min(start+1000, len(ids))]
			out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &s3types.Delete{Objects: batch, Quiet: aws.Bool(true)}})
			if err != nil {
				return n, fmt.Errorf("delete versions in s3://%s: %w", bucket, err)
			}
			if len(out.Errors) > 0 {
				e := out.Errors[0]
				return n, fmt.Errorf("delete s3://%s/%s version %s: %s: %s (and %d more)", bucket, aws.ToString(e.Key), aws.ToString(e.VersionId), aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors)-1)
			}
			n += len(batch)
		}
	}
}
