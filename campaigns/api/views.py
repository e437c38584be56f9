"""REST endpoints for group lotteries, bulk gifts from a list, and the sender's tracker.

Thin views: parse input, call one service, render. The services hold the rules.
"""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.services import bulk, lottery, tracker
from gifts.api.serializers import AcceptSerializer, GiftSerializer, PaidSkuSerializer
from gifts.api.views import SlotOut, _slot_out
from gifts.selectors import gift_get_for_sender
from gifts.services.claim import AddressInput, claim_gift_get, slot_accept, slot_decline
from gifts.throttles import CLAIM_THROTTLES
from giftshop.errors import error_responses
from giftshop.throttling import CountedUserRateThrottle
from shops.api.serializers import AbsoluteUrlField, card_photos_absolute

# ----- serializers (request bodies and documented responses) -----


class LotteryCreateSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField(min_value=1, max_value=2**62)
    winners = serializers.IntegerField(min_value=1, max_value=100_000, help_text="units to give away (N)")
    quantity = serializers.IntegerField(default=1, min_value=1, max_value=10_000, help_text="units per winner")
    message = serializers.CharField(default="", allow_blank=True, max_length=200)
    draw_at = serializers.DateTimeField(help_text="when the winners are drawn; entries close then")
    allowed_usernames = serializers.ListField(
        child=serializers.CharField(max_length=150),
        default=list,
        max_length=10_000,
        help_text="who may enter; empty: anyone with the link",
    )


class LotteryGiftSerializer(GiftSerializer):
    class Meta(GiftSerializer.Meta):
        fields = [*GiftSerializer.Meta.fields, "draw_at"]


class _ProductOut(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    image = serializers.CharField()
    image_url = AbsoluteUrlField(help_text="the paid 款式's photo (else the product's), square 480 px")
    shop = serializers.CharField()


class _DrawAudit(serializers.Serializer):
    source = serializers.CharField(help_text="the random source, `secrets.SystemRandom`")
    entrants = serializers.IntegerField()
    picks = serializers.ListField(child=serializers.IntegerField(), help_text="indices into the entrant list")
    your_position = serializers.IntegerField(allow_null=True, help_text="your index in the entrant list")


class LotteryCardSerializer(serializers.Serializer):
    gift_id = serializers.IntegerField()
    sender = serializers.CharField()
    message = serializers.CharField()
    status = serializers.CharField()
    product = _ProductOut()
    paid_sku = PaidSkuSerializer()
    sku_id = serializers.IntegerField()
    quantity = serializers.IntegerField()
    units = serializers.IntegerField(help_text="how many winners")
    draw_at = serializers.DateTimeField()
    restricted = serializers.BooleanField(help_text="only invited accounts may enter")
    invited = serializers.BooleanField()
    entrants = serializers.IntegerField()
    entered = serializers.BooleanField()
    drawn = serializers.BooleanField()
    drawn_at = serializers.DateTimeField(allow_null=True)
    won = serializers.BooleanField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="winners accept before this")
    your_slot = SlotOut
    audit = _DrawAudit(allow_null=True)


class LotteryEntryOutSerializer(serializers.Serializer):
    entered = serializers.BooleanField()
    created = serializers.BooleanField(help_text="false when you had already entered (nothing changed)")
    entrants = serializers.IntegerField()


class BulkCreateSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField(min_value=1, max_value=2**62)
    quantity = serializers.IntegerField(default=1, min_value=1, max_value=10_000, help_text="units per recipient")
    message = serializers.CharField(default="", allow_blank=True, max_length=200)
    csv = serializers.CharField(
        max_length=bulk.MAX_CSV_CHARS,
        trim_whitespace=False,
        help_text="the list as CSV text: name, phone or email, optional note; one recipient a line",
    )


class BulkProgressSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    stage = serializers.ChoiceField(choices=bulk.Stage.choices)
    phase = serializers.CharField(help_text="what the bar measures: `validating` rows or `sending` links")
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()
    total_rows = serializers.IntegerField()
    processed_rows = serializers.IntegerField()
    valid_rows = serializers.IntegerField()
    invalid_rows = serializers.IntegerField()
    links_sent = serializers.IntegerField()
    gift_id = serializers.IntegerField(allow_null=True)
    amount_fen = serializers.IntegerField(allow_null=True, help_text="what one payment will be, before checkout")


class BulkErrorSerializer(serializers.Serializer):
    row_number = serializers.IntegerField(help_text="line number in the uploaded file")
    name = serializers.CharField()
    error = serializers.CharField(help_text="the reasons, separated by ；")


class BulkOrderSerializer(BulkProgressSerializer):
    errors = BulkErrorSerializer(many=True, help_text="the first 500 refused rows")


class BulkCardSerializer(serializers.Serializer):
    sender = serializers.CharField()
    message = serializers.CharField()
    for_name = serializers.CharField(help_text="the name the sender typed")
    contact_kind = serializers.CharField()
    contact_masked = serializers.CharField(help_text="where the one-time code goes, masked")
    product = _ProductOut()
    paid_sku = PaidSkuSerializer()
    quantity = serializers.IntegerField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    verified = serializers.BooleanField(help_text="this account proved it is the named recipient")
    taken_by_other = serializers.BooleanField()
    code_sent = serializers.BooleanField()


class CodeSentSerializer(serializers.Serializer):
    sent = serializers.BooleanField()


class CodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=12)


class TrackerRowSerializer(serializers.Serializer):
    slot_id = serializers.IntegerField()
    number = serializers.IntegerField()
    recipient = serializers.CharField(help_text="account name, or for bulk gifts the name you typed")
    note = serializers.CharField()
    contact = serializers.CharField(help_text="bulk gifts: the contact you typed, masked")
    stage = serializers.ChoiceField(choices=tracker.STAGES)
    stage_label = serializers.CharField()
    sku = serializers.CharField()
    link_sent_at = serializers.DateTimeField(allow_null=True)
    opened_at = serializers.DateTimeField(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)
    shipped_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    thanks = serializers.CharField()
    can_resend = serializers.BooleanField()
    resend_after = serializers.DateTimeField(allow_null=True, help_text="when 重发链接 is possible again, if not now")


class TrackerSerializer(serializers.Serializer):
    gift_id = serializers.IntegerField()
    mode = serializers.CharField()
    status = serializers.CharField()
    total = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="recipients per stage")
    funnel = serializers.DictField(child=serializers.IntegerField(), help_text="recipients that got at least this far")
    entrants = serializers.IntegerField(required=False, help_text="lotteries only")
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    rows = TrackerRowSerializer(many=True)


# ----- lottery -----


class LotteryThrottle(CountedUserRateThrottle):
    """Starting lotteries, per account: an invitation list is checked against the accounts, so the
    count of unknown names it answers is held to a few lists an hour."""

    scope = "lottery"


class LotteryCreate(APIView):
    """Start a group lottery: buy N units now, winners are drawn at `draw_at`. Returns the gift and its payment."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [LotteryThrottle]

    @extend_schema(request=LotteryCreateSerializer, responses={201: LotteryGiftSerializer, **error_responses(404, 409)})
    def post(self, request):
        data = LotteryCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        gift = lottery.lottery_create(sender=request.user, **data.validated_data)
        return Response(LotteryGiftSerializer(gift).data, status=status.HTTP_201_CREATED)


class LotteryCard(APIView):
    """The lottery behind a link: prize, draw time, whether you entered, and after the draw whether you won
    (winners then accept through `POST /api/v1/claims/{token}/accept/`)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: LotteryCardSerializer, **error_responses(404)})
    def get(self, request, token: str):
        gift = claim_gift_get(token=token)
        lottery.lottery_open(gift=gift, user=request.user)
        return Response(card_photos_absolute(request, lottery.lottery_card(gift=gift, user=request.user)))


class LotteryEnter(APIView):
    """Enter the draw. 201 the first time, 200 when you had already entered; 409 `lottery_closed` after the draw
    time, 403 `not_invited` when the sender limited who may enter."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = CLAIM_THROTTLES

    @extend_schema(
        request=None,
        responses={200: LotteryEntryOutSerializer, 201: LotteryEntryOutSerializer, **error_responses(403, 409, 429)},
    )
    def post(self, request, token: str):
        gift = claim_gift_get(token=token)
        _, created = lottery.lottery_enter(gift=gift, user=request.user)
        card = lottery.lottery_card(gift=gift, user=request.user)
        return Response(
            {"entered": True, "created": created, "entrants": card["entrants"]},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# ----- bulk: the sender -----


def _order_out(order) -> dict:
    return {**bulk.bulk_progress(order=order), "errors": list(bulk.bulk_errors(order=order)[:500])}


class BulkCreate(APIView):
    """Upload a recipient list (CSV text) for one SKU. Workers validate it in chunks; poll the progress,
    read the per-row report, then `checkout` to pay once for every valid row."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=BulkCreateSerializer, responses={201: BulkOrderSerializer, **error_responses(404)})
    def post(self, request):
        data = BulkCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        order = bulk.bulk_order_create(
            sender=request.user, sku_id=d["sku_id"], csv_text=d["csv"], quantity=d["quantity"], message=d["message"]
        )
        order.refresh_from_db()
        return Response(_order_out(order), status=status.HTTP_201_CREATED)


class BulkDetail(APIView):
    """A bulk list: progress and the refused rows with their reasons."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: BulkOrderSerializer, **error_responses(404)})
    def get(self, request, pk: int):
        return Response(_order_out(bulk.bulk_order_get_for_sender(order_id=pk, user=request.user)))


class BulkProgress(APIView):
    """The small JSON the progress bar polls: validating rows, then sending links."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: BulkProgressSerializer, **error_responses(404)})
    def get(self, request, pk: int):
        return Response(bulk.bulk_progress(order=bulk.bulk_order_get_for_sender(order_id=pk, user=request.user)))


class BulkCheckout(APIView):
    """One payment for every valid row: creates the gift (a slot per row) and its prepay order. Repeating returns
    the same gift. 409 `list_not_ready` while validating; 400 `no_valid_rows`."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={201: GiftSerializer, **error_responses(404, 409)})
    def post(self, request, pk: int):
        order = bulk.bulk_order_get_for_sender(order_id=pk, user=request.user)
        gift = bulk.bulk_checkout(order=order, sender=request.user)
        gift = gift_get_for_sender(gift_id=gift.pk, user=request.user)
        return Response(GiftSerializer(gift).data, status=status.HTTP_201_CREATED)


class BulkResend(APIView):
    """Send one recipient their personal link again. 429 `too_soon` within the interval (an hour by default)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=None,
        responses={200: TrackerRowSerializer, **error_responses(404, 409, 429)},
    )
    def post(self, request, pk: int, slot_id: int):
        gift = gift_get_for_sender(gift_id=pk, user=request.user)
        bulk.bulk_link_resend(gift=gift, slot_id=slot_id)
        slot = tracker.tracker_slots(gift=gift).get(pk=slot_id)
        return Response(TrackerRowSerializer(tracker.tracker_row(slot, gift=gift, claimable=True)).data)


# ----- bulk: the recipient -----


class BulkClaimCard(APIView):
    """A personal gift link from a list: who it is for, and where the one-time code will go (masked)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: BulkCardSerializer, **error_responses(404)})
    def get(self, request, token: str):
        row = bulk.bulk_row_get(token=token)
        bulk.bulk_open(row=row)
        return Response(card_photos_absolute(request, bulk.bulk_card(row=row, user=request.user)))


class BulkClaimCode(APIView):
    """Send a one-time code to the phone or email the sender typed. 429 `too_soon` within a minute."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = CLAIM_THROTTLES

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(CodeSentSerializer, description="code sent"),
            200: OpenApiResponse(CodeSentSerializer, description="this account is already verified; nothing sent"),
            **error_responses(403, 404, 409, 410, 429),
        },
    )
    def post(self, request, token: str):
        sent = bulk.bulk_code_send(row=bulk.bulk_row_get(token=token), user=request.user)
        return Response({"sent": sent}, status=status.HTTP_202_ACCEPTED if sent else status.HTTP_200_OK)


class BulkClaimVerify(APIView):
    """Prove you are the named recipient with the code: the gift is bound to this account. 400 `bad_code`,
    `code_expired`; 429 `too_many_attempts`; 409 `taken_by_other`."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = CLAIM_THROTTLES

    @extend_schema(request=CodeSerializer, responses={200: SlotOut, **error_responses(403, 404, 409, 410, 429)})
    def post(self, request, token: str):
        data = CodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slot = bulk.bulk_code_verify(
            row=bulk.bulk_row_get(token=token), user=request.user, code=data.validated_data["code"]
        )
        return Response(_slot_out(slot))


class BulkClaimAccept(APIView):
    """Accept with a shipping address, after verifying. 403 `code_required` before. 202: a worker processes it."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = CLAIM_THROTTLES

    @extend_schema(request=AcceptSerializer, responses={202: SlotOut, **error_responses(403, 404, 409, 410, 429)})
    def post(self, request, token: str):
        data = AcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = bulk.bulk_row_get(token=token)
        slot = slot_accept(
            gift=row.slot.gift,
            user=request.user,
            address=AddressInput.from_dict(data.validated_data["address"]),
            sku_id=data.validated_data.get("sku_id"),
            save_address=data.validated_data["save_address"],
            slot_token=token,
        )
        return Response(_slot_out(slot), status=status.HTTP_202_ACCEPTED)


class BulkClaimDecline(APIView):
    """Decline, after verifying: the sender is refunded for this recipient."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = CLAIM_THROTTLES

    @extend_schema(request=None, responses={200: SlotOut, **error_responses(403, 404, 409, 410, 429)})
    def post(self, request, token: str):
        row = bulk.bulk_row_get(token=token)
        slot = slot_decline(gift=row.slot.gift, user=request.user, slot_token=token)
        return Response(_slot_out(slot))


# ----- the sender's tracker -----


class GiftTracker(APIView):
    """Per recipient: queued / sent / opened / accepted / shipped / delivered / declined / expired / refunded, with
    counts and the funnel. Never an address; bulk contacts only masked."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("offset", OpenApiTypes.INT, description="rows to skip"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="rows to return (default 100, at most 1000)"),
        ],
        responses={200: TrackerSerializer, **error_responses(404)},
    )
    def get(self, request, pk: int):
        gift = gift_get_for_sender(gift_id=pk, user=request.user)
        offset = _int_param(request, "offset", 0, 0, 10**9)
        limit = _int_param(request, "limit", 100, 1, 1000)
        rows = tracker.tracker_rows(gift=gift, offset=offset, limit=limit)
        return Response(
            {
                **tracker.tracker_summary(gift=gift),
                "offset": offset,
                "limit": limit,
                "rows": TrackerRowSerializer(rows, many=True).data,
            }
        )


def _int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise serializers.ValidationError({name: [f"an integer from {low} to {high}"]})
    return value


class GiftTrackerCsv(APIView):
    """The tracker as a CSV file (UTF-8 with BOM), every recipient, streamed."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR, **error_responses(404)})
    def get(self, request, pk: int):
        gift = gift_get_for_sender(gift_id=pk, user=request.user)
        response = StreamingHttpResponse(tracker.tracker_csv(gift=gift), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="gift-{gift.pk}-tracker.csv"'
        return response
