package apply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pilotlight/pilotlight/internal/protect"
	"github.com/pilotlight/pilotlight/internal/protect/inventory"
	"github.com/pilotlight/pilotlight/internal/region"
)

// applyBucket adopts one bucket in the lab: versioning on, the replica
// bucket made (versioned), the lab's object replicator serving the pair,
// and a wait until every object already there is in the replica (the
// backfill S3 Batch Replication does on AWS).
func applyBucket(ctx context.Context, b inventory.Bucket, dr string, t LabTarget, say func(string, ...any)) error {
	replica := protect.ReplicaName(b.Name, dr)
	if err := ensureVersioning(ctx, t.PrimaryS3, b.Name, t.Primary, say); err != nil {
		return err
	}
	if err := replicaBucketIn(ctx, t.DRS3, replica, dr, say); err != nil {
		return err
	}
	say("%s: replicating %s → %s (and back during a failback)", b.Name, t.Primary, replica)
	if err := t.Replicate(ctx, Replicated{Bucket: b.Name, Replica: replica}); err != nil {
		return err
	}
	n, err := waitBackfill(ctx, t, b.Name, replica)
	if err != nil {
		return fmt.Errorf("copy the objects already there: %w", err)
	}
	say("%s: its %d objects are in %s", b.Name, n, replica)
	return nil
}

// ensureVersioning turns the bucket's versioning on unless it is.
func ensureVersioning(ctx context.Context, c *s3.Client, bucket, regionName string, say func(string, ...any)) error {
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	if err != nil {
		return err
	}
	if v.Status == s3types.BucketVersioningStatusEnabled {
		return nil
	}
	say("%s: enabling versioning in %s", bucket, regionName)
	return versioned(ctx, c, bucket)
}

func versioned(ctx context.Context, c *s3.Client, bucket string) error {
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	if err != nil {
		return fmt.Errorf("enable versioning on %s: %w", bucket, err)
	}
	return nil
}

// replicaBucketIn creates the replica bucket in the DR region, versioned;
// one there already is checked to be versioned (a second run).
func replicaBucketIn(ctx context.Context, c *s3.Client, bucket, dr string, say func(string, ...any)) error {
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		say("%s: creating it in %s", bucket, dr)
		switch err := region.CreateBucket(ctx, c, bucket, dr); {
		case errors.Is(err, region.ErrBucketTaken):
			return fmt.Errorf("replica bucket %s (the bucket's name and the DR region) belongs to another account: bucket names are global, so protect this bucket under another name", bucket)
		case err != nil:
			return fmt.Errorf("create replica bucket %s in %s: %w", bucket, dr, err)
		}
	}
	return versioned(ctx, c, bucket)
}

// waitBackfill waits until every current object of bucket is in replica
// with its size, and returns how many there are.
func waitBackfill(ctx context.Context, t LabTarget, bucket, replica string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(t.BackfillTimeout, 5*time.Minute))
	defer cancel()
	src, err := listSizes(ctx, t.PrimaryS3, bucket)
	if err != nil {
		return 0, err
	}
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		dst, err := listSizes(ctx, t.DRS3, replica)
		if err != nil {
			return 0, err
		}
		missing := 0
		for k, n := range src {
			if m, ok := dst[k]; !ok || m != n {
				missing++
			}
		}
		if missing == 0 {
			return len(src), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%d of %d objects not in %s yet (%w): is the lab's replication paused? `pilotlight lab status` says", missing, len(src), replica, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// listSizes is a bucket's current objects: key → size.
func listSizes(ctx context.Context, c *s3.Client, bucket string) (map[string]int64, error) {
	out := map[string]int64{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
		}
	}
	return out, nil
}

// removeBucket undoes applyBucket: the lab stops replicating the bucket,
// and with deleteReplicas the replica bucket — every version in it, then
// the bucket — is deleted. The user's bucket is not touched.
func removeBucket(ctx context.Context, b inventory.Bucket, dr string, t LabTarget, say func(string, ...any), deleteReplicas bool) error {
	replica := protect.ReplicaName(b.Name, dr)
	if err := t.StopReplicating(ctx, Replicated{Bucket: b.Name, Replica: replica}); err != nil {
		return err
	}
	say("%s: no longer replicated", b.Name)
	if !deleteReplicas {
		say("%s: its replica %s in %s is kept (--delete-replicas deletes it)", b.Name, replica, dr)
		return nil
	}
	n, err := emptyBucket(ctx, t.DRS3, replica)
	if err != nil {
		return err
	}
	_, err = t.DRS3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(replica)})
	var nb *s3types.NoSuchBucket
	if err != nil && !errors.As(err, &nb) {
		return fmt.Errorf("delete replica bucket %s: %w", replica, err)
	}
	say("%s: its replica %s in %s deleted (%d versions)", b.Name, replica, dr, n)
	return nil
}

// emptyBucket deletes every version and delete marker in bucket (gone
// already: none) and returns how many.
func emptyBucket(ctx context.Context, c *s3.Client, bucket string) (int, error) {
	n, err := region.DeleteVersions(ctx, c, bucket, "")
	var nb *s3types.NoSuchBucket
	if errors.As(err, &nb) {
		return n, nil
	}
	return n, err
}
