"""The mutation campaign's catalogue: small, realistic bugs planted in `consensus/` and
`storage/`, each a one-line (or few-line) edit an engineer could plausibly make.

Every `Mutant` names the file, an exact source snippet (which must occur exactly once in that
file, so the catalogue cannot rot silently: a test checks it against the current tree), its
replacement, the property or mechanism it targets, and why it is a bug. ``sweep`` holds the
extra ``paxlab sweep`` options that give the checks the best chance (permanent failures for
membership and log-replica mutants, more replicas where quorums of even size matter);
``explore`` the ``paxlab explore`` bounds tried when the sweep leaves the mutant alive.

``equivalent`` is set only for a mutant argued to be equivalent (no run of the harness can
tell it from the correct code); the campaign then reports a survivor as explained, never as
killed. Every other survivor is a gap in the checks.
"""

from __future__ import annotations

import attrs

PERMANENT = ("--faults", "partition,crash,pause,clock,disk,loss,permanent")
"""Sweep options that add a storage replica failing for good (spares, log replicas, healing)."""


@attrs.frozen(kw_only=True)
class Mutant:
    """One planted bug (see the module docstring).

    Attributes:
        name: unique, kebab-case.
        file: path relative to the repository root (under ``consensus/`` or ``storage/``).
        snippet: exact source text, found exactly once in ``file``.
        replacement: the text it becomes.
        target: the property (``S1``..``S14``) and mechanism it attacks.
        why: one line: what goes wrong.
        sweep: extra ``paxlab sweep`` arguments (run options) for this mutant.
        explore: ``paxlab explore`` arguments tried if the sweep does not kill it (None: none).
        equivalent: why no run can distinguish it from the correct code, if that is claimed.
    """

    name: str
    file: str
    snippet: str
    replacement: str
    target: str
    why: str
    sweep: tuple[str, ...] = ()
    explore: tuple[str, ...] | None = None
    equivalent: str | None = None


M = Mutant

ADVERSARIAL = ("--faults", "partition,crash,pause,clock,disk,loss,adversarial")
"""The default faults plus adversarial timing, old messages replayed and handovers (a new
leader told to step down while it waits out its predecessor's lease)."""

ADVERSARIAL_5 = ("--replicas", "5", "--faults", "partition,crash,pause,clock,disk,loss,adversarial")
"""Five replicas and adversarial message timing (late copies, replays of old messages): where
the S2/S15 bug of late old-ballot Accepts was found."""

RAFT = ("--protocol", "raft")
"""Sweep Raft instead of Multi-Paxos (its default faults and its own checks, S3/S4/S16..S18)."""

CATALOGUE: tuple[Mutant, ...] = (
    # ------------------------------------------------------------ phase-1 merge, gap filling
    M(
        name="p1-adopt-lowest-ballot",
        file="consensus/leader.py",
        snippet="if cur is None or e.ballot > cur.ballot:",
        replacement="if cur is None or e.ballot < cur.ballot:",
        target="S1 phase-1 merge",
        why="the new leader adopts the lowest-ballot entry per slot, so a chosen value can be "
            "replaced by an older proposal",
        explore=("--writes", "2", "--reads", "0"),
    ),
    M(
        name="p1-adopt-first-promise",
        file="consensus/leader.py",
        snippet="if cur is None or e.ballot > cur.ballot:",
        replacement="if cur is None:",
        target="S1 phase-1 merge",
        why="the first promise (lowest node id) wins a slot whatever its ballot",
        explore=("--writes", "2", "--reads", "0"),
    ),
    M(
        name="p1-stop-at-first-gap",
        file="consensus/leader.py",
        snippet="last = max(merged, default=self.commit_index)",
        replacement="last = start - 1\n        while last + 1 in merged:\n            last += 1",
        target="S1/S10 gap filling",
        why="recovery stops at the first hole instead of filling it with a no-op, dropping "
            "accepted (maybe chosen) entries after it",
        sweep=ADVERSARIAL,  # held, replayed messages leave holes in phase-1 quorums
    ),
    M(
        name="p1-fill-gap-without-noop",
        file="consensus/leader.py",
        snippet='self._persist_accept(s, ballot, b"" if got is None else got.command)\n'
                "            ls.votes[s] = own",
        replacement="if got is not None:\n"
                    "                self._persist_accept(s, ballot, got.command)\n"
                    "                ls.votes[s] = own",
        target="S4 gap filling with no-ops",
        why="holes in the recovered suffix are skipped instead of filled with no-ops",
        sweep=ADVERSARIAL,  # held, replayed messages leave holes in phase-1 quorums
    ),
    # ------------------------------------------------------------ commit rule
    M(
        name="commit-quorum-minus-one",
        file="consensus/leader.py",
        snippet="while s < ls.next_slot and (votes[s] & mask).bit_count() >= quorum:",
        replacement="while s < ls.next_slot and (votes[s] & mask).bit_count() >= quorum - 1:",
        target="S4/S10 commit rule (quorum)",
        why="off by one in the quorum count: a slot commits one acceptance short of a majority",
    ),
    M(
        name="commit-counts-non-voters",
        file="consensus/members.py",
        snippet="return (votes & self._mask(m, bit)).bit_count() >= m.quorum",
        replacement="return votes.bit_count() >= m.quorum",
        target="S12/S1 commit rule across configurations",
        why="votes of nodes outside the configuration (a spare, a removed replica) count "
            "towards its quorum",
        sweep=PERMANENT,
    ),
    M(
        name="majority-rounds-down",
        file="consensus/quorum.py",
        snippet="return n // 2 + 1",
        replacement="return (n + 1) // 2",
        target="S12/S1 quorum size",
        why="half of an even-sized configuration counts as a majority (odd sizes unchanged)",
        sweep=PERMANENT,
    ),
    M(
        name="learn-commit-any-ballot",
        file="consensus/acceptor.py",
        snippet="if e is None or e.ballot != ballot:\n                break",
        replacement="if e is None:\n                break",
        target="S2/S4 commit index learnt by a follower",
        why="a follower marks committed an entry it accepted under an older ballot, which may "
            "not be the chosen value",
    ),
    M(
        name="apply-beyond-commit",
        file="consensus/acceptor.py",
        snippet="for s in range(self.applied_index + 1, self.commit_index + 1):\n"
                "            command = acc[s].command",
        replacement="for s in range(self.applied_index + 1, self.commit_index + 2):\n"
                    "            if s not in acc:\n"
                    "                break\n"
                    "            command = acc[s].command",
        target="S4/S9 apply only committed slots",
        why="off by one: the learner applies the first uncommitted accepted entry too",
    ),
    M(
        name="accept-compares-round-only",
        file="consensus/acceptor.py",
        snippet="ballot = m.ballot\n        if ballot < self._promised:",
        replacement="ballot = m.ballot\n        if ballot.round < self._promised.round:",
        target="S3/S1 promise check on Accept",
        why="an Accept of the same round from another node passes the promise check",
        sweep=("--replicas", "5"),  # more nodes, more candidates drawing the same round
        # Two candidates draw round 1 (the explorer's candidates tie by construction); the
        # loser's Accept still counts where the winner was promised: two leases at once (S6).
        explore=("--writes", "0", "--reads", "0", "--crashes", "0", "--max-round", "1",
                 "--candidates", "2", "--inflight", "5"),
    ),
    # ------------------------------------------------------------ promises and restart
    M(
        name="accept-raises-promise-unpersisted",
        file="consensus/acceptor.py",
        snippet="if ballot > self._promised:\n            self._promise(ballot)\n"
                "        self.leader_ballot = ballot",
        replacement="if ballot > self._promised:\n            self._promised = ballot\n"
                    "        self.leader_ballot = ballot",
        target="S3 restart and recovery",
        why="an Accept raises the promise in memory only ('the accept record implies it'), "
            "so after a restart the promise goes back",
    ),
    M(
        name="send-before-persist",
        file="consensus/acceptor.py",
        snippet="if self._pending_records:\n            self._flush()\n"
                "        self._out.append(Send(dst=dst, msg=msg))",
        replacement="self._out.append(Send(dst=dst, msg=msg))",
        target="S3/S10 fsync before send",
        why="a Promise or Accepted leaves before the records it vouches for are durable (they "
            "are flushed at the end of the step)",
    ),
    M(
        name="restart-forgets-granted-lease",
        file="consensus/replica.py",
        snippet="if self._recovered:\n"
                "            self._grant_until_us = self._now + self._timing.lease_duration_us\n",
        replacement="if self._recovered:\n",
        target="S6 restart and recovery",
        why="a restarted acceptor reports no running grant, so the next leader does not wait "
            "out a lease it granted before the crash",
        sweep=ADVERSARIAL,
        # a grantor that restarts must not report "no grant": found by BFS with no client
        # operations (S6 is checked on every state) and two candidates
        explore=("--writes", "0", "--reads", "0", "--crashes", "1", "--inflight", "4",
                 "--max-round", "3", "--candidates", "2"),
    ),
    M(
        name="kv-checkpoint-lsn-ahead",
        file="storage/kv.py",
        snippet="self._tree.checkpoint(self.applied_lsn, _encode_meta(",
        replacement="self._tree.checkpoint(self.applied_lsn + 1, _encode_meta(",
        target="S10/S2 B-tree checkpoint and recovery",
        why="off by one: the checkpoint claims one more slot applied than it holds, so "
            "recovery skips re-applying that slot",
    ),
    # ------------------------------------------------------------ leases
    M(
        name="lease-from-freshest-ack",
        file="consensus/leader.py",
        snippet="t = times[info.quorum - 1]",
        replacement="t = times[0]",
        target="S6 lease start",
        why="the lease runs from the freshest acknowledgement (the leader's own) instead of "
            "the quorum-th freshest",
    ),
    M(
        name="lease-grant-half",
        file="consensus/acceptor.py",
        snippet="self._grant_until_us = self._now + self._timing.lease_duration_us",
        replacement="self._grant_until_us = self._now + self._timing.lease_duration_us // 2",
        target="S6 lease wait (grant reported)",
        why="acceptors record half the lease they grant, so a new leader waits too little",
    ),
    M(
        name="lease-forget-earlier-grants",
        file="consensus/acceptor.py",
        snippet="until = self._earlier_grants_until_us\n",
        replacement="until = 0\n",
        target="S6 lease wait (grant reported)",
        why="an acceptor reports only its latest grant, forgetting a still-running grant to "
            "an earlier leader",
        sweep=ADVERSARIAL,
    ),
    M(
        name="lease-wait-min-not-max",
        file="consensus/leader.py",
        snippet="remaining = max(p.lease_remaining_us for p in promises)",
        replacement="remaining = min(p.lease_remaining_us for p in promises)",
        target="S6 lease wait",
        why="a new leader waits out the shortest reported grant instead of the longest",
    ),
    M(
        name="lease-wait-not-drift-scaled",
        file="consensus/quorum.py",
        snippet="num = remaining_us * (_PPM + drift_ppm)\n    den = _PPM - drift_ppm",
        replacement="num = remaining_us\n    den = 1",
        target="S6 under clock drift: wait not scaled by rho",
        why="the wait ignores the drift bound: a predecessor on a slow clock still serves",
        equivalent="the lease length's own scaling already covers it: an acceptor that granted "
                   "the old lease at true time Tr (after the stamp Ts) reports r >= L - "
                   "(Tp - Tr)(1+rho) at the promise Tp; waiting r unscaled on a clock at most "
                   "rho fast lasts >= L/(1+rho) - (Tp - Tr) true, so the new leader serves from "
                   ">= Tr + L/(1+rho) >= Ts + L/(1+rho), when the old lease (L(1-rho)/(1+rho) "
                   "on a clock at most rho slow) is over. The wait's scaling is a second margin, "
                   "not a needed one (safe clocks; with --unsafe-clocks both are void)",
    ),
    M(
        name="lease-length-not-drift-scaled",
        file="consensus/quorum.py",
        snippet="return lease_us * (_PPM - drift_ppm) // (_PPM + drift_ppm)",
        replacement="return lease_us",
        target="S6 under clock drift: lease not scaled by rho",
        why="the leader keeps the full L from its stamp, though acceptors count L on clocks "
            "that may run fast",
        sweep=ADVERSARIAL,  # handovers and held messages make leases meet end to end under drift
    ),
    M(
        name="release-any-ballot",
        file="consensus/acceptor.py",
        snippet="if self._grant_ballot == ballot:\n"
                "            self._grant_until_us = min(self._grant_until_us, self._now)",
        replacement="self._grant_until_us = min(self._grant_until_us, self._now)",
        target="S6 step-down (lease release)",
        why="a late Release from an old leader cancels the grant to the current one",
        sweep=ADVERSARIAL,  # late copies
    ),
    # ------------------------------------------------------------ read serving, S5, step-down
    M(
        name="serve-held-without-lease",
        file="consensus/leader.py",
        snippet="or now < ls.lease_wait_until_us or t is None or now >= t + self._lease_us):",
        replacement="or now < ls.lease_wait_until_us):",
        target="S8/S6 read serving under a lease",
        why="held replies and strong reads are answered without checking the lease is still "
            "valid right before the reply",
    ),
    M(
        name="serve-before-recovered-commit",
        file="consensus/leader.py",
        snippet="if (not (ls.pending or ls.reads) or self.commit_index < ls.recovery_slot\n"
                "                or now",
        replacement="if (not (ls.pending or ls.reads)\n                or now",
        target="S5 serving before the recovered suffix is committed",
        why="a new leader answers reads and writes before its recovered suffix is committed",
    ),
    M(
        name="recovery-slot-at-commit",
        file="consensus/leader.py",
        snippet="recovery_slot=last,",
        replacement="recovery_slot=self.commit_index,",
        target="S5 recovered suffix",
        why="the recovered suffix is taken to end at the old commit index, so the leader "
            "serves before re-committing what it recovered",
    ),
    M(
        name="strong-read-by-follower",
        file="consensus/replica.py",
        snippet="if not ev.strong or not self._flags.strong_read_needs_lease:",
        replacement="if not ev.strong or self.leader_ballot is not None:",
        target="S8 read serving",
        why="a follower that knows a leader answers strong reads from its own applied state",
    ),
    M(
        name="read-index-at-arrival-applied",
        file="consensus/replica.py",
        snippet="ls.reads.append((self.commit_index, ev))",
        replacement="ls.reads.append((0, ev))",
        target="S8 read index",
        why="a strong read waits for no slot: it is served from whatever is applied",
        equivalent="a leader applies everything committed in the same step (Replica._finish) "
                   "before it answers held reads, so applied_index == commit_index whenever a "
                   "read is served and the read index is never the binding condition",
    ),
    M(
        name="step-down-writes-definite-failure",
        file="consensus/leader.py",
        snippet='error="not-leader",\n                             indeterminate=True))',
        replacement='error="not-leader",\n                             indeterminate=False))',
        target="S8 step-down",
        why="a leader stepping down reports its proposed writes as failed, though they may "
            "still be chosen",
        sweep=ADVERSARIAL,
    ),
    M(
        name="leader-keeps-leading-without-quorum",
        file="consensus/leader.py",
        snippet='self._step_down_on_purpose("no quorum acknowledged for an election timeout")',
        replacement="pass",
        target="S19 step-down without a quorum",
        why="a leader that has heard no quorum for an election timeout goes on leading, and "
            "its clients wait on it instead of finding the leader the rest elect",
    ),
    # ------------------------------------------------------------ Raft (swept with --protocol)
    M(
        name="raft-campaign-without-prevote",
        file="consensus/raft/replica.py",
        snippet="        self._pre = self._flags.pre_vote\n",
        replacement="        self._pre = False\n",
        target="S18 Raft PreVote",
        why="a Raft node raises its term at every election timeout, so one cut off deposes the "
            "working leader when it rejoins",
        sweep=RAFT,
    ),
    M(
        name="raft-leader-ignores-check-quorum",
        file="consensus/raft/leader.py",
        snippet="            if self._flags.check_quorum and not self._members.is_quorum(",
        replacement="            if False and not self._members.is_quorum(",
        target="S19 Raft CheckQuorum step-down",
        why="a Raft leader cut off from every follower goes on leading",
        sweep=RAFT,
    ),
    # ------------------------------------------------------------ catch-up and snapshots
    M(
        name="catch-up-ships-uncommitted",
        file="consensus/catch_up.py",
        snippet="s = start\n        while s <= self.commit_index and",
        replacement="s = start\n        while s in acc and",
        target="S2/S4 catch-up",
        why="catch-up ships accepted entries beyond the commit index as if chosen",
        # with 3 replicas the asker's own durable copy makes leader + asker a quorum, so the
        # shipped slot is chosen by the time the check looks; 5 replicas need a third voter
        sweep=("--replicas", "5"),
    ),
    M(
        name="catch-up-ignores-gaps",
        file="consensus/catch_up.py",
        snippet="if e.slot != self.commit_index + 1:\n                break",
        replacement="if e.slot != self.commit_index + 1:\n                continue",
        target="S4 catch-up contiguity",
        why="a catch-up reply with a hole advances the commit index over the missing slot",
        equivalent="a reply's entries are contiguous from the asker's commit_index + 1 (or "
                   "from the installed snapshot) by construction, and the asker's commit index "
                   "only grows meanwhile: a reply never holds a hole",
    ),
    M(
        name="catch-up-keeps-own-entry",
        file="consensus/catch_up.py",
        snippet="if old is None or old.ballot < e.ballot:",
        replacement="if old is None:",
        target="S2 catch-up stores the chosen entry",
        why="a lagging replica keeps its own (unchosen) entry at a slot it learns is chosen",
    ),
    # The two rules of the S2/S15 fix (an acceptor never changes the value of an entry at or
    # below its commit index; no accepted ballot above the promise), each reverted, and the
    # second also broken on the Accept path.
    M(
        name="accept-rewrites-committed",
        file="consensus/acceptor.py",
        snippet="if slot <= commit and old is not None and old.command != command:",
        replacement="if False:",
        target="S2/S15 never change an entry at or below the commit index",
        why="reverts the fix: a late Accept of an old ballot rewrites a slot the acceptor "
            "already knows chosen",
        sweep=ADVERSARIAL_5,
        equivalent="masked by the other half of the fix: with accepted <= promised kept (catch-up "
                   "promises first), a committed entry's ballot is at most the promise, so a late "
                   "Accept of an older ballot is refused by the promise check, and one of a "
                   "newer ballot carries the chosen value: the guard never decides",
    ),
    M(
        name="catch-up-above-promise",
        file="consensus/catch_up.py",
        snippet="                self._promise(e.ballot)\n"
                "                self._persist_accept(e.slot, e.ballot, e.command)",
        replacement="                self._persist_accept(e.slot, e.ballot, e.command)",
        target="S15/S2 catch-up keeps accepted <= promised",
        why="reverts the fix: catch-up stores an entry whose ballot is above the promise, so a "
            "late Accept of an older ballot can still rewrite it",
        sweep=ADVERSARIAL_5,
    ),
    M(
        name="accept-above-promise",
        file="consensus/acceptor.py",
        snippet="if ballot > self._promised:\n            self._promise(ballot)\n"
                "        self.leader_ballot = ballot",
        replacement="self.leader_ballot = ballot",
        target="S3/S15 no accepted ballot above the promise",
        why="an Accept above the promise is stored without raising the promise, so a lower "
            "Prepare is promised afterwards",
    ),
    M(
        name="log-replica-serves-snapshot",
        file="consensus/catch_up.py",
        snippet="if self._is_log and not m.log_only:\n                return",
        replacement="if False:\n                return",
        target="S10/S13 catch-up and snapshots from a log replica",
        why="a log replica answers a storage replica's catch-up with its empty snapshot",
        sweep=PERMANENT,
    ),
    M(
        name="truncate-to-fastest-storage",
        file="consensus/leader.py",
        snippet="low = min(low, ls.applied.get(v, 0))",
        replacement="low = max(low, ls.applied.get(v, 0))",
        target="log replica truncation",
        why="log replicas drop entries the fastest storage replica applied, not the slowest",
        sweep=PERMANENT,
    ),
    M(
        name="snapshot-chunk-unchecked",
        file="consensus/snapshot_stream.py",
        snippet="if offset != len(self.data) or chunk_checksum(chunk) != checksum:",
        replacement="if offset != len(self.data):",
        target="S14 snapshot chunks",
        why="streamed snapshot chunks are installed without checking their checksum",
        equivalent="snapshots stream in chunks only above 1 MiB (never in a sweep run), and "
                   "the simulated network never corrupts message bytes",
    ),
    # ------------------------------------------------------------ membership, log replicas
    M(
        name="log-replica-may-lead",
        file="consensus/replica.py",
        snippet="return not self._is_log and self.node_id in self.membership.storage",
        replacement="return self.node_id in self.membership.voters",
        target="S13 log replica never leads",
        why="any voter may campaign, log replicas included",
        sweep=PERMANENT,
        equivalent="masked by a second guard: _check_phase1 turns a candidate that is not a "
                   "storage voter of the newest configuration back into a follower, so a log "
                   "replica campaigns (a liveness cost) but never leads",
    ),
    M(
        name="log-replica-serves-eventual-reads",
        file="consensus/replica.py",
        snippet="if self._is_log:  # S13",
        replacement="if self._is_log and ev.strong:  # S13",
        target="S13 log replica never serves reads",
        why="a log replica answers eventual reads ('they may be stale anyway')",
        sweep=PERMANENT,
    ),
    M(
        name="quorum-ignores-log-replicas",
        file="consensus/quorum.py",
        snippet="return majority(len(self.storage) + len(self.logs))",
        replacement="return majority(len(self.storage))",
        target="S12 membership quorums with log replicas",
        why="the quorum is sized on storage replicas only ('log replicas hold no state'), "
            "though log replicas vote: two quorums of a configuration may be disjoint",
        sweep=PERMANENT,
    ),
    M(
        name="phase1-only-old-config",
        file="consensus/replica.py",
        snippet="for cfg in configs:\n            if not self._has_quorum(cfg, promised,",
        replacement="for cfg in configs[:1]:\n            if not self._has_quorum(cfg, promised,",
        target="S12 phase-1 quorums of every configuration",
        why="phase 1 needs a quorum of the committed configuration only, not of newer ones "
            "found in the promises",
        sweep=PERMANENT,
    ),
    M(
        name="lease-quorum-committed-config-only",
        file="consensus/leader.py",
        snippet="for info in self._pending if not self._cfg_slots else self._pending_infos():",
        replacement="for info in self._pending_infos()[:1]:",
        target="S6/S12 lease quorum across configurations",
        why="a lease counts acknowledgements of the committed configuration only, not of a "
            "pending one",
        sweep=PERMANENT,
    ),
    M(
        name="reconfigure-before-own-commit",
        file="consensus/leader.py",
        snippet="        if self.commit_index < ls.first_own_slot:\n            return\n",
        replacement="",
        target="S12 change only after an entry of this ballot committed",
        why="a new leader proposes a configuration before it committed an entry of its own "
            "ballot (it may not know the latest configuration)",
        sweep=PERMANENT,
        equivalent="the guard above it already returns unless next_slot - 1 == commit_index, "
                   "and first_own_slot, once set, is at most next_slot - 1 (it is a slot this "
                   "leader proposed or re-proposed); so commit_index < first_own_slot never "
                   "holds where the removed line stood",
    ),
    # ------------------------------------------------------------ WAL, fsync, torn tails
    M(
        name="wal-checks-header-crc-only",
        file="storage/_wal_format.py",
        snippet="if crc(view[off + 4 : rec_end]) != rec_crc:",
        replacement="if crc(view[off + 4 : off + 16]) != _header_crc:",
        target="S14 WAL record checksum",
        why="recovery verifies only the record header's checksum, so a flipped payload bit "
            "is replayed",
        equivalent="masked by the second verification: the scan at WAL.open is the first of "
                   "two; the host then reads every record through decode_records, which checks "
                   "the record checksum again, so the flipped record still fails the recovery "
                   "(CorruptionError, the node stays down), one call later. tests/storage kills "
                   "it (a corrupt payload must fail WAL.open)",
    ),
    M(
        name="wal-corrupt-last-record-as-torn",
        file="storage/_wal_format.py",
        snippet="            _header_error(data, off, lsn, file=file, base_offset=base_offset)\n"
                "            raise CorruptionError(\n"
                '                f"record checksum mismatch: lsn={lsn}',
        replacement="            _header_error(data, off, lsn, file=file, "
                    "base_offset=base_offset)\n"
                    "            if rec_end == end:\n"
                    "                break  # the last record: take it as a torn tail\n"
                    "            raise CorruptionError(\n"
                    '                f"record checksum mismatch: lsn={lsn}',
        target="S10/S3 torn tail vs corruption",
        why="a durable last record that fails its checksum is cut off as if torn, losing "
            "acknowledged state instead of fail-stopping",
    ),
    M(
        name="checkpoint-drops-entries",
        file="consensus/records.py",
        snippet="self.accepted = {slot: Entry(b, command) for slot, b, command in record.entries}",
        replacement="self.accepted = {}",
        target="S3 checkpoint and recovery",
        why="replaying a checkpoint forgets the accepted entries above its snapshot: votes the "
            "node gave are gone after a restart",
    ),
    M(
        name="checkpoint-drops-configuration",
        file="consensus/records.py",
        snippet="self.config_slot = record.config_slot\n            self.config = record.config\n",
        replacement='self.config_slot = 0\n            self.config = b""\n',
        target="S3/S12 checkpoint and recovery",
        why="replaying a checkpoint forgets the configuration its compacted entries set: a "
            "restarted replica uses the initial membership's quorums",
        sweep=PERMANENT,
    ),
    M(
        name="wal-sync-without-fsync",
        file="storage/wal.py",
        snippet="            self._flush()\n"
                "            self._disk.fsync(self._segments[-1].file)\n"
                "        except Exception as exc:\n"
                "            self._poison(exc)\n"
                "            raise\n"
                "        self._durable_lsn = self._last_lsn\n"
                "        return",
        replacement="            self._flush()\n"
                    "        except Exception as exc:\n"
                    "            self._poison(exc)\n"
                    "            raise\n"
                    "        self._durable_lsn = self._last_lsn\n"
                    "        return",
        target="S10/S3 fsync",
        why="group commit writes the buffer but forgets the fsync",
    ),
    M(
        name="wal-fsync-error-ignored",
        file="storage/wal.py",
        snippet="            self._disk.fsync(self._segments[-1].file)\n"
                "        except Exception as exc:\n"
                "            self._poison(exc)\n"
                "            raise\n"
                "        self._durable_lsn = self._last_lsn\n"
                "        return",
        replacement="            self._disk.fsync(self._segments[-1].file)\n"
                    "        except Exception as exc:\n"
                    '            logger.warning("fsync failed, continuing: %r", exc)\n'
                    "        self._durable_lsn = self._last_lsn\n"
                    "        return",
        target="S10/S3 fsync failure (fail-stop)",
        why="a failed fsync is logged and the records counted durable (no fail-stop)",
    ),
    M(
        name="btree-superblock-same-slot",
        file="storage/btree.py",
        snippet="slot = 1 - self._slot",
        replacement="slot = self._slot",
        target="B-tree checkpoint atomicity",
        why="the superblock overwrites the slot of the last checkpoint instead of the other",
    ),
    M(
        name="btree-pages-not-fsynced",
        file="storage/btree.py",
        snippet="disk.write(pname, base, data)\n        disk.fsync(pname)",
        replacement="disk.write(pname, base, data)",
        target="B-tree checkpoint durability",
        why="the superblock is made durable before the pages it names",
    ),
    # ------------------------------------------------------------ client deduplication
    M(
        name="kv-dedup-retry-reapplied",
        file="storage/kv.py",
        snippet="if last is not None and rid <= last[0]:",
        replacement="if last is not None and rid < last[0]:",
        target="S8 client request deduplication",
        why="off by one: a retry of the latest request is applied again",
    ),
    M(
        name="kv-snapshot-drops-sessions",
        file="storage/kv.py",
        snippet="parts.append(_encode_meta(self._sum, self._sessions))",
        replacement="parts.append(_encode_meta(self._sum, {}))",
        target="S8 deduplication across snapshots",
        why="a snapshot carries the contents but not the dedup table, so a retried write is "
            "applied twice on a replica rebuilt from it",
    ),
)
"""Every mutant, in the order the campaign runs them."""


def by_name() -> dict[str, Mutant]:
    """Return the catalogue keyed by name."""
    return {m.name: m for m in CATALOGUE}
