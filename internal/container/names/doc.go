// Package names owns container names: docker's naming rule (Valid),
// generated adjective_surname names (Generate), and the reservation of a
// name for a container ID, unique across concurrent hoist processes.
//
// # On-disk layout (under the hoist root)
//
//	container-names/<name>   one file per name, holding the container ID;
//	                         created with O_EXCL (Reserve), removed by its
//	                         owner only (Release)
package names
