#!/usr/bin/env bash
# Creates the shop example — two tables, a bucket and two Go functions with
# their function URLs — with the AWS CLI, wherever the CLI points (the lab:
# eval "$(bin/pilotlight lab env)" first). The functions are built with Go
# for provided.al2023 on this machine's architecture (GOARCH to change it).
# On AWS, give them a role of yours: SHOP_ROLE=arn:aws:iam::…:role/….
set -euo pipefail
aws=${AWS:-aws}
root=$(cd "$(dirname "$0")/../.." && pwd)
ddb=(dynamodb)
s3=(s3api)
fn=(lambda)
if [[ -n "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]]; then ddb+=(--endpoint-url "$AWS_ENDPOINT_URL_DYNAMODB"); fi
if [[ -n "${AWS_ENDPOINT_URL_S3:-}" ]]; then s3+=(--endpoint-url "$AWS_ENDPOINT_URL_S3"); fi
if [[ -n "${AWS_ENDPOINT_URL_LAMBDA:-}" ]]; then fn+=(--endpoint-url "$AWS_ENDPOINT_URL_LAMBDA"); fi
# AWS CLI v1 reads only AWS_DEFAULT_REGION; `lab env` sets AWS_REGION.
if [[ -n "${AWS_REGION:-}" ]]; then ddb+=(--region "$AWS_REGION"); s3+=(--region "$AWS_REGION"); fn+=(--region "$AWS_REGION"); fi

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
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for k in images/cat.png thumbs/cat.png readme.txt; do
  printf '%s' "$k" >"$work/body"
  "$aws" "${s3[@]}" put-object --bucket shop-media --key "$k" --body "$work/body" >/dev/null
done

# A Go function is a bootstrap in a zip, for the provided.al2023 runtime.
arch=${GOARCH:-$(go env GOARCH)}
lambda_arch=$([[ $arch == arm64 ]] && echo arm64 || echo x86_64)
role=${SHOP_ROLE:-arn:aws:iam::000000000000:role/shop}
deploy() { # name source-dir [url]
  mkdir -p "$work/$1"
  (cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -tags lambda.norpc -trimpath -o "$work/$1/bootstrap" "./testdata/shop/functions/$2")
  if command -v python3 >/dev/null 2>&1; then
    (cd "$work/$1" && python3 -m zipfile -c ../$1.zip bootstrap)
  else
    (cd "$work/$1" && zip -q ../$1.zip bootstrap)
  fi
  "$aws" "${fn[@]}" create-function --function-name "$1" --runtime provided.al2023 --handler bootstrap \
    --architectures "$lambda_arch" --role "$role" --timeout 10 --zip-file "fileb://$work/$1.zip" >/dev/null
  if [[ ${3:-} == url ]]; then
    "$aws" "${fn[@]}" create-function-url-config --function-name "$1" --auth-type NONE >/dev/null
  fi
}
deploy shop-cart-api carts url # the cart service, behind its function URL
deploy shop-mailer mailer      # invoked (by a queue, on AWS): no URL
echo "created shop-carts, shop-users, shop-media, shop-cart-api and shop-mailer"
