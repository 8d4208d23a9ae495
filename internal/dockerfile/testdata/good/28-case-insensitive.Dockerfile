from busybox as Base
Run echo mixed
copy a b
env K=v
