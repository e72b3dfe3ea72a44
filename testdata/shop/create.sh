#!/usr/bin/env bash
# Creates the shop example's tables and bucket with the AWS CLI, wherever
# the CLI points (the lab: eval "$(bin/pilotlight lab env)" first).
set -euo pipefail
aws=${AWS:-aws}
ddb=(dynamodb)
s3=(s3api)
if [[ -n "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]]; then ddb+=(--endpoint-url "$AWS_ENDPOINT_URL_DYNAMODB"); fi
if [[ -n "${AWS_ENDPOINT_URL_S3:-}" ]]; then s3+=(--endpoint-url "$AWS_ENDPOINT_URL_S3"); fi
# AWS CLI v1 reads only AWS_DEFAULT_REGION; `lab env` sets AWS_REGION.
if [[ -n "${AWS_REGION:-}" ]]; then ddb+=(--region "$AWS_REGION"); s3+=(--region "$AWS_REGION"); fi

"$aws" "${ddb[@]}" create-table --table-name shop-carts \
  --attribute-definitions AttributeName=user,AttributeType=S AttributeName=line,AttributeType=N AttributeName=sku,AttributeType=S \
  --key-schema AttributeName=user,KeyType=HASH AttributeName=line,KeyType=RANGE \
  --global-secondary-indexes 'IndexName=by-sku,KeySchema=[{AttributeName=sku,KeyType=HASH}],Projection={ProjectionType=ALL}' \
  --billing-mode PAY_PER_REQUEST \
  --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES >/dev/null
"$aws" "${ddb[@]}" create-table --table-name shop-users \
  --attribute-definitions AttributeName=id,AttributeType=S \
  --key-schema AttributeName=id,KeyType=HASH \
  --billing-mode PAY_PER_REQUEST >/dev/null
for i in 1 2 3; do
  "$aws" "${ddb[@]}" put-item --table-name shop-carts \
    --item "{\"user\":{\"S\":\"ann\"},\"line\":{\"N\":\"$i\"},\"sku\":{\"S\":\"sku-$i\"},\"qty\":{\"N\":\"1\"}}"
done
"$aws" "${s3[@]}" create-bucket --bucket shop-media >/dev/null
body=$(mktemp)
trap 'rm -f "$body"' EXIT
for k in images/cat.png thumbs/cat.png readme.txt; do
  printf '%s' "$k" >"$body"
  "$aws" "${s3[@]}" put-object --bucket shop-media --key "$k" --body "$body" >/dev/null
done
echo "created shop-carts, shop-users and shop-media"
