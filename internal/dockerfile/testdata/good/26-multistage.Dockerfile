ARG GO=1.22
FROM golang:${GO} AS build
WORKDIR /src
COPY . .
RUN go build -o /out/app ./cmd/app

FROM build AS test
RUN go test ./...

FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
