"""Every record tag of the wire format and the record type it names, in one place.

Why a table apart from the records: a tag is forever (it is inside every signed block that
carries the record), so assigning one is a decision to make looking at all the others, not in
the module that happens to define the record.  The record modules still register their classes
themselves (``@wire_type(N)`` next to the class, so a reader sees the tag there); the tests
check that this table equals what they register at run time, that no tag appears twice, and
docs/wire-format.md (§2) lists the same table with each record's fields.

A tag is never reused for another meaning: when a record is removed, its tag moves to
:data:`RETIRED` and keeps its row here.  The tests register tags of their own (third-party
range, and 990, 993 - 995); those are not part of the format and are not listed.
"""

from __future__ import annotations

from typing import Final

TAG_RANGES: Final[dict[str, range]] = {
    "runtime": range(1, 100),
    "actors": range(100, 200),
    "apps": range(200, 1000),
    "third_party": range(1000, 1 << 31),
}
"""Who assigns tags where: 1-99 runtime (blocks, frames, keys), 100-199 actors (governance,
membership), 200-999 bundled apps (a hundred each), 1000+ third-party apps (registered at load
time, not listed here)."""

TABLE: Final[tuple[tuple[int, str], ...]] = (
    # runtime: blocks and the simulator's anti-entropy
    (1, "peoplenet.runtime.lace.block.Block"),
    (2, "peoplenet.runtime.lace.lace_sync.SyncHave"),
    (3, "peoplenet.runtime.lace.lace_sync.SyncBlocks"),
    # runtime: transport
    (20, "peoplenet.runtime.net.noise_channel.Hello"),
    # runtime: personal laces (block payloads)
    (30, "peoplenet.runtime.social.graph.Follow"),
    (31, "peoplenet.runtime.social.graph.Unfollow"),
    (32, "peoplenet.runtime.social.graph.Befriend"),
    (33, "peoplenet.runtime.social.graph.Unfriend"),
    (34, "peoplenet.runtime.social.graph.Post"),
    (35, "peoplenet.runtime.social.graph.Reply"),
    (36, "peoplenet.runtime.social.graph.Address"),
    (37, "peoplenet.runtime.social.graph.Introduce"),
    # runtime: dissemination between friends
    (50, "peoplenet.runtime.social.dissemination.Disclose"),
    (51, "peoplenet.runtime.social.dissemination.Blocks"),
    (52, "peoplenet.runtime.social.dissemination.FriendRequest"),
    (53, "peoplenet.runtime.social.dissemination.Heads"),
    # runtime: consensus, epoch laces and app laces
    (60, "peoplenet.runtime.consensus.constitution.Constitution"),
    (61, "peoplenet.runtime.consensus.constitution.Genesis"),
    (62, "peoplenet.runtime.consensus.constitution.Amendment"),
    (63, "peoplenet.runtime.consensus.constitution.Approval"),
    (64, "peoplenet.runtime.consensus.rules.RoundPayload"),
    (65, "peoplenet.runtime.consensus.core.EpochBlocks"),
    (66, "peoplenet.runtime.consensus.core.EpochHave"),
    (67, "peoplenet.runtime.lace.app_lace.LaceBlocks"),
    (68, "peoplenet.runtime.lace.app_lace.LaceHave"),
    # actors: the charter and the founding
    (100, "peoplenet.actors.governance.charter.Charter"),
    (101, "peoplenet.actors.governance.charter.RateSubject"),
    (102, "peoplenet.actors.governance.charter.BudgetSubject"),
    (103, "peoplenet.actors.governance.charter.RankingSubject"),
    (104, "peoplenet.actors.governance.charter.BoardSubject"),
    (105, "peoplenet.actors.governance.charter.BylawsSubject"),
    (106, "peoplenet.actors.governance.charter.Founding"),
    # actors: governance transactions
    (110, "peoplenet.actors.governance.records.GovTx"),
    (111, "peoplenet.actors.governance.records.Surety"),
    (112, "peoplenet.actors.governance.records.Open"),
    (113, "peoplenet.actors.governance.records.Table"),
    (114, "peoplenet.actors.governance.records.Vote"),
    (115, "peoplenet.actors.governance.records.Close"),
    (116, "peoplenet.actors.governance.records.KeyUpdate"),
    (117, "peoplenet.actors.governance.records.Vouch"),
    (118, "peoplenet.actors.governance.records.Contribution"),
    (119, "peoplenet.actors.governance.records.Distribute"),
    (120, "peoplenet.actors.governance.records.EpochApproval"),
    (121, "peoplenet.actors.governance.records.Admit"),
    (122, "peoplenet.actors.governance.records.Remove"),
    (123, "peoplenet.actors.governance.records.AppChange"),
    (124, "peoplenet.actors.governance.records.Amend"),
    (125, "peoplenet.actors.governance.records.ConsensusParams"),
    (126, "peoplenet.actors.governance.records.AppTx"),
    # actors: the governance fold
    (130, "peoplenet.actors.governance.state.Rejection"),
    # actors: cooperative files
    (150, "peoplenet.actors.coop.coop_file.FoundingDraft"),
    (151, "peoplenet.actors.coop.halves.SuretyHalf"),
    # actors: the work kit (160 - 179): sealed details 160 - 162 (162 held for that piece),
    # customers 163 - 167
    (160, "peoplenet.actors.work.sealed.Sealed"),
    (161, "peoplenet.actors.work.sealed.SealedKey"),
    (163, "peoplenet.actors.work.customers.CustomerRequest"),
    (164, "peoplenet.actors.work.receipts.CustomerReceipt"),
    (165, "peoplenet.actors.work.profile.ProfileMember"),
    (166, "peoplenet.actors.work.profile.CoopProfile"),
    (167, "peoplenet.actors.work.receipts.ReceiptQuery"),
    # actors: the work kit's ratings, disputes and pricing (171 - 179)
    (171, "peoplenet.actors.work.pricing.Breakdown"),
    (172, "peoplenet.actors.work.ratings.Rating"),
    (173, "peoplenet.actors.work.disputes.Ruling"),
    (174, "peoplenet.actors.work.disputes.JuryDraw"),
    # apps: currency (200 - 299)
    (200, "peoplenet.apps.currency.records.Issue"),
    (201, "peoplenet.apps.currency.records.Approve"),
    (202, "peoplenet.apps.currency.records.Accept"),
    (203, "peoplenet.apps.currency.records.Mint"),
    (204, "peoplenet.apps.currency.records.Disapprove"),
    (205, "peoplenet.apps.currency.records.Redeem"),
    (206, "peoplenet.apps.currency.records.Repay"),
    (207, "peoplenet.apps.currency.records.CreditOffer"),
    (208, "peoplenet.apps.currency.records.CreditAccept"),
    (220, "peoplenet.apps.currency.community.CommunityPay"),
    # apps: ride-hailing (300 - 349)
    (300, "peoplenet.apps.ride_hailing.records.DriverOnline"),
    (301, "peoplenet.apps.ride_hailing.records.DriverOffline"),
    (302, "peoplenet.apps.ride_hailing.records.Position"),
    (303, "peoplenet.apps.ride_hailing.records.RequestRide"),
    (304, "peoplenet.apps.ride_hailing.records.Accept"),
    (305, "peoplenet.apps.ride_hailing.records.Decline"),
    (306, "peoplenet.apps.ride_hailing.records.Arrive"),
    (307, "peoplenet.apps.ride_hailing.records.Start"),
    (308, "peoplenet.apps.ride_hailing.records.Complete"),
    (309, "peoplenet.apps.ride_hailing.records.AgreeFare"),
    (310, "peoplenet.apps.ride_hailing.records.Cancel"),
    (311, "peoplenet.apps.ride_hailing.records.Rate"),
    (312, "peoplenet.apps.ride_hailing.records.Dispute"),
    (313, "peoplenet.apps.ride_hailing.records.Expire"),
    (314, "peoplenet.apps.ride_hailing.records.Rule"),
    (315, "peoplenet.apps.ride_hailing.records.Hold"),
    (316, "peoplenet.apps.ride_hailing.records.Details"),
    (317, "peoplenet.apps.ride_hailing.records.AskRide"),
    (318, "peoplenet.apps.ride_hailing.records.CustomerRide"),
    (319, "peoplenet.apps.ride_hailing.records.Release"),
    (320, "peoplenet.apps.ride_hailing.records.SettleDebt"),
    (321, "peoplenet.apps.ride_hailing.records.JuryDetails"),
    # apps: delivery (350 - 399)
    (350, "peoplenet.apps.delivery.records.CourierOnline"),
    (351, "peoplenet.apps.delivery.records.CourierOffline"),
    (352, "peoplenet.apps.delivery.records.Stop"),
    (353, "peoplenet.apps.delivery.records.PlaceOrder"),
    (354, "peoplenet.apps.delivery.records.StoreAnswer"),
    (355, "peoplenet.apps.delivery.records.CancelOrder"),
    (356, "peoplenet.apps.delivery.records.RestoreOrder"),
    (357, "peoplenet.apps.delivery.records.Assign"),
    (358, "peoplenet.apps.delivery.records.MoveTour"),
    (359, "peoplenet.apps.delivery.records.Reorder"),
    (360, "peoplenet.apps.delivery.records.AnswerTask"),
    (361, "peoplenet.apps.delivery.records.StartTask"),
    (362, "peoplenet.apps.delivery.records.CompleteTask"),
    (363, "peoplenet.apps.delivery.records.FailTask"),
    (364, "peoplenet.apps.delivery.records.Track"),
    (365, "peoplenet.apps.delivery.records.Rate"),
    (366, "peoplenet.apps.delivery.records.SettleDebt"),
    (367, "peoplenet.apps.delivery.records.CustomerOrder"),
    (368, "peoplenet.apps.delivery.records.Address"),
    (369, "peoplenet.apps.delivery.records.Repay"),
    # the example noticeboard app (900 - 903)
    (900, "peoplenet_noticeboard.records.PostNotice"),
    (901, "peoplenet_noticeboard.records.PinNotice"),
    (902, "peoplenet_noticeboard.records.WithdrawNotice"),
    (903, "peoplenet_noticeboard.records.Notice"),
)
"""(tag, the record's ``module.QualifiedName``), in tag order.  Pairs, not a dict literal: a
tag written twice in a dict literal would silently keep the last, and the test could not see it."""

RETIRED: Final[frozenset[int]] = frozenset()
"""Tags whose record no longer exists: they keep their row in TABLE and are never assigned again."""

TAGS: Final[dict[int, str]] = dict(TABLE)
"""Tag -> the record type's full name."""


__all__ = ["RETIRED", "TABLE", "TAGS", "TAG_RANGES"]
