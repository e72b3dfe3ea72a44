package inventory

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Scaling is a provisioned table's auto scaling of one capacity (Application
// Auto Scaling): what its global table's replicas must repeat.
type Scaling struct {
	Min    int32   `json:"min"`
	Max    int32   `json:"max"`
	Target float64 `json:"target_utilization"` // percent (0: no target-tracking policy found)
}

func (s Scaling) String() string {
	return fmt.Sprintf("%d–%d, target %.0f%%", s.Min, s.Max, s.Target)
}

// Scaling dimensions of a table.
const (
	writeDimension = astypes.ScalableDimensionDynamoDBTableWriteCapacityUnits
	readDimension  = astypes.ScalableDimensionDynamoDBTableReadCapacityUnits
)

// scanScaling reads a provisioned table's read and write auto scaling. A
// target without a target-tracking policy keeps Target 0; the template
// then asks for DynamoDB's default, 70%.
func scanScaling(ctx context.Context, c *applicationautoscaling.Client, t *Table) error {
	id := "table/" + t.Name
	out, err := c.DescribeScalableTargets(ctx, &applicationautoscaling.DescribeScalableTargetsInput{ServiceNamespace: astypes.ServiceNamespaceDynamodb, ResourceIds: []string{id}})
	if err != nil {
		return fmt.Errorf("table %s: its auto scaling: %w", t.Name, err)
	}
	for _, st := range out.ScalableTargets {
		s := &Scaling{Min: aws.ToInt32(st.MinCapacity), Max: aws.ToInt32(st.MaxCapacity)}
		pol, err := c.DescribeScalingPolicies(ctx, &applicationautoscaling.DescribeScalingPoliciesInput{ServiceNamespace: astypes.ServiceNamespaceDynamodb,
			ResourceId: aws.String(id), ScalableDimension: st.ScalableDimension})
		if err != nil {
			return fmt.Errorf("table %s: its scaling policies: %w", t.Name, err)
		}
		for _, p := range pol.ScalingPolicies {
			if c := p.TargetTrackingScalingPolicyConfiguration; c != nil {
				s.Target = aws.ToFloat64(c.TargetValue)
			}
		}
		switch st.ScalableDimension {
		case writeDimension:
			t.WriteScaling = s
		case readDimension:
			t.ReadScaling = s
		}
	}
	return nil
}

// readCapacity is a provisioned table's read capacity units.
func readCapacity(d *dynamodb.DescribeTableOutput) int64 {
	if pt := d.Table.ProvisionedThroughput; pt != nil {
		return aws.ToInt64(pt.ReadCapacityUnits)
	}
	return 0
}

// scalingNote says what a provisioned table's plan keeps.
func scalingNote(t Table) string {
	parts := []string{"write auto scaling " + t.WriteScaling.String()}
	if t.ReadScaling != nil {
		parts = append(parts, "read auto scaling "+t.ReadScaling.String())
	} else {
		parts = append(parts, fmt.Sprintf("%d read units", t.ReadCapacity))
	}
	return "provisioned, with " + strings.Join(parts, " and ") + ": the global table keeps them, in both regions"
}
