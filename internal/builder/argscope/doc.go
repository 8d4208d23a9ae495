// Package argscope is the scoping of Dockerfile variables as docker does
// it: ARGs before the first FROM are global (with the predefined platform
// ARGs) and usable only in FROM until a stage redeclares them (`ARG
// NAME`); a --build-arg value overrides a default; in a stage, ENV shadows
// an ARG of the same name; a RUN step sees the ARGs in scope and the proxy
// --build-args as environment variables, and records the ARGs in its
// history text ("RUN |2 A=1 B= cmd"); --build-args no ARG declared are
// reported (Build.Unused) for docker's "[Warning] One or more build-args
// [X] were not consumed".
//
// It owns no on-disk state.
package argscope
