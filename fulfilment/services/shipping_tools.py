"""Bulk shipping for merchant staff: export the to-ship queue as CSV, import tracking numbers.

Both go through the staff member's own shops only (`merchant_slots`): an order id of another shop
is "unknown" on import and never appears in an export. Each imported row ships through
`slot_ship_manually` in its own transaction, so one bad row never undoes the good ones.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import transaction

from fulfilment import error_codes as E
from fulfilment.selectors import merchant_slots
from fulfilment.services.shipments import slot_ship_manually
from gifts.models import Slot, SlotStatus
from giftshop.errors import AppError
from payments.models import Refund
from privacy.models import PiiAccessLog
from privacy.services import pii_access_record

EXPORT_HEADER = ["订单号", "商品", "款式", "数量", "收件人", "手机", "收货地址", "贺卡祝福"]

# Header names an import file may use for each column (English, or the export's Chinese labels).
IMPORT_COLUMNS = {
    "order_id": ("order_id", "订单号", "订单id", "order id"),
    "carrier": ("carrier", "快递公司", "快递", "承运商"),
    "tracking_no": ("tracking_no", "运单号", "快递单号", "tracking no", "tracking number"),
}
IMPORT_MAX_BYTES = 2 * 1024 * 1024
IMPORT_MAX_ROWS = 5000

# Row error codes (stable strings) and what the merchant is told.
BAD_ROW = "bad_row"
UNKNOWN_ORDER = E.UNKNOWN_ORDER
BAD_TRACKING = "bad_tracking"
DUPLICATE_TRACKING = "duplicate_tracking"
REASONS = {
    BAD_ROW: "格式错误：需要 订单号,快递公司,运单号 三列，订单号须为数字",
    UNKNOWN_ORDER: "订单不存在或不属于本店",
    E.NOT_SHIPPABLE: "订单不是待发货状态",
    BAD_TRACKING: "缺少快递公司或运单号（运单号最长 64 位）",
    DUPLICATE_TRACKING: "运单号重复：已用于本店的另一个订单",
}

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ImportRow:
    row: int  # the spreadsheet row number, header = row 1
    order_id: str
    ok: bool
    code: str = ""
    reason: str = ""


@dataclass
class ImportReport:
    rows: list[ImportRow] = field(default_factory=list)

    @property
    def shipped(self) -> list[ImportRow]:
        return [r for r in self.rows if r.ok]

    @property
    def failed(self) -> list[ImportRow]:
        return [r for r in self.rows if not r.ok]


class ImportFileError(AppError):
    """The file as a whole cannot be read (not CSV, too big, no rows)."""

    def __init__(self, detail: str):
        super().__init__("bad_file", detail)


# ----- export -----


def to_ship_for_export(*, user, slot_ids: Iterable[int] | None = None):
    """The to-ship orders a packer should handle: this user's shops, oldest acceptance first.
    Orders with an after-sales refund under way are left out: they must not be packed."""
    qs = (
        merchant_slots(user=user, status=SlotStatus.TO_SHIP)
        .select_related("gift__sender")
        .exclude(refunds__reason=Refund.Reason.AFTER_SALES)
        .order_by("accepted_at", "id")
    )
    if slot_ids is not None:
        qs = qs.filter(pk__in=list(slot_ids))
    return qs


def blessing_text(slot: Slot) -> str:
    """The blessing printed on the card in the parcel, or "" when the shop does not print cards."""
    return slot.gift.message if slot.gift.shop.print_blessing_card else ""


def _cell(value) -> str:
    """Spreadsheet-safe text: user-typed values starting like a formula are quoted with a leading '."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_row(slot: Slot) -> list[str]:
    address = getattr(slot, "address", None)
    return [
        str(slot.pk),
        _cell(slot.sku.product.title),
        _cell(slot.sku.label),
        str(slot.gift.quantity),
        _cell(address.name if address else ""),
        _cell(address.phone if address else ""),
        _cell(f"{address.region}{address.detail}" if address else ""),
        _cell(blessing_text(slot)),
    ]


def to_ship_csv(*, user, slot_ids: Iterable[int] | None = None) -> Iterator[bytes]:
    """The export as UTF-8 with a BOM (so Excel shows Chinese), streamed row by row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> bytes:
        data = buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        return data

    writer.writerow(EXPORT_HEADER)
    yield b"\xef\xbb\xbf" + flush()
    exported = []
    for slot in to_ship_for_export(user=user, slot_ids=slot_ids).iterator(chunk_size=500):
        writer.writerow(export_row(slot))
        exported.append(slot)
        if len(exported) >= 500:
            pii_access_record(user=user, slots=exported, channel=PiiAccessLog.Channel.CSV_EXPORT)
            exported = []
        yield flush()
    pii_access_record(user=user, slots=exported, channel=PiiAccessLog.Channel.CSV_EXPORT)


# ----- import -----


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) first; Excel on Chinese Windows saves CSV as GB18030."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError("无法识别文件编码，请保存为 UTF-8 或 GBK 编码的 CSV")


def _column_positions(first: list[str]) -> tuple[dict[str, int], bool]:
    """Where each column is, and whether the first row is a header. Without a header the file is
    read as order_id, carrier, tracking_no."""
    names = [c.strip().lower() for c in first]
    positions = {}
    for key, aliases in IMPORT_COLUMNS.items():
        for i, name in enumerate(names):
            if name in aliases:
                positions[key] = i
                break
    if len(positions) == len(IMPORT_COLUMNS):
        return positions, True
    if positions:
        missing = "、".join(k for k in IMPORT_COLUMNS if k not in positions)
        raise ImportFileError(f"表头缺少列：{missing}（需要 order_id,carrier,tracking_no）")
    return {"order_id": 0, "carrier": 1, "tracking_no": 2}, False


def tracking_rows_parse(data: bytes) -> list[tuple[int, list[str]]]:
    """The file's records with their spreadsheet row numbers; blank lines are dropped."""
    if len(data) > IMPORT_MAX_BYTES:
        raise ImportFileError(f"文件过大（上限 {IMPORT_MAX_BYTES // 1024 // 1024} MB），请分批导入")
    text = _decode(data)
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ImportFileError(f"不是有效的 CSV 文件：{exc}") from exc
    numbered = [(i, rec) for i, rec in enumerate(records, start=1) if any(c.strip() for c in rec)]
    if not numbered:
        raise ImportFileError("文件中没有数据行")
    if len(numbered) > IMPORT_MAX_ROWS + 1:
        raise ImportFileError(f"一次最多导入 {IMPORT_MAX_ROWS} 行，请分批导入")
    return numbered


def tracking_import(*, user, data: bytes) -> ImportReport:
    """Ship every row of an uploaded order_id,carrier,tracking_no file that can be shipped, and say
    exactly why each other row was not."""
    numbered = tracking_rows_parse(data)
    positions, has_header = _column_positions(numbered[0][1])
    if has_header:
        numbered = numbered[1:]
    width = max(positions.values()) + 1

    parsed: list[tuple[int, str, int | None, str, str]] = []
    for row_no, rec in numbered:
        raw_id = rec[positions["order_id"]].strip() if len(rec) > positions["order_id"] else ""
        if len(rec) < width or not raw_id.isdigit() or len(raw_id) > 18:
            parsed.append((row_no, raw_id, None, "", ""))
            continue
        parsed.append(
            (row_no, raw_id, int(raw_id), rec[positions["carrier"]].strip(), rec[positions["tracking_no"]].strip())
        )

    ids = {order_id for _, _, order_id, _, _ in parsed if order_id is not None}
    slots = {s.pk: s for s in merchant_slots(user=user).filter(pk__in=ids)}

    report = ImportReport()
    for row_no, raw_id, order_id, carrier_name, tracking_no in parsed:
        if order_id is None:
            report.rows.append(_failed(row_no, raw_id, BAD_ROW))
            continue
        slot = slots.get(order_id)
        if slot is None:
            report.rows.append(_failed(row_no, raw_id, UNKNOWN_ORDER))
            continue
        try:
            with transaction.atomic():
                slot_ship_manually(slot=slot, carrier_name=carrier_name, tracking_no=tracking_no, actor=user)
        except AppError as exc:
            report.rows.append(_failed(row_no, raw_id, exc.code, detail=str(exc.detail)))
            continue
        report.rows.append(ImportRow(row=row_no, order_id=raw_id, ok=True))
    return report


def _failed(row_no: int, order_id: str, code: str, *, detail: str = "") -> ImportRow:
    reason = REASONS.get(code, detail or code)
    if code == E.NOT_SHIPPABLE and detail:
        reason = detail
    return ImportRow(row=row_no, order_id=order_id, ok=False, code=code, reason=reason)
