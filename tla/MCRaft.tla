------------------------------- MODULE MCRaft -------------------------------
(***************************************************************************)
(* Model-checking wrapper for Raft: the symmetry TLC may use. Servers of   *)
(* the initial configuration are interchangeable among themselves, spares  *)
(* (servers outside it) among themselves, client commands among themselves.*)
(***************************************************************************)
EXTENDS Raft, TLC

Symmetry == Permutations(InitConfig) \cup Permutations(Servers \ InitConfig)
                \cup Permutations(Values)

(***************************************************************************)
(* Witnesses: "invariants" that must FAIL, so TLC shows the passing models  *)
(* are not vacuous (the behaviour they cover is reachable).                *)
(***************************************************************************)

(* A leader commits an entry of an earlier term (indirectly, through one of its own). *)
NoOldTermCommitted == ~\E c \in committed : c.entry.term < c.by

(* A configuration change commits. *)
NoConfigCommitted == ~\E c \in committed : c.entry.kind = "cfg"
=============================================================================
