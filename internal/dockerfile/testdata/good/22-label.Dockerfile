FROM busybox
LABEL a=b
LABEL "com.example.vendor"="ACME Inc" version="1.0" description="multi \
line"
LABEL key=$V other="${V} quoted" single='$V'
LABEL legacy form value
