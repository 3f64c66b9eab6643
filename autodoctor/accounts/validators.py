"""Checks and normal forms for what people type into their profiles: VIN, Canadian postal
code, phone number, vehicle year, and the mechanic photo (validated, size-limited and
re-encoded with Pillow).

Each `normal_*` function returns the stored form or raises InvalidInput naming the field,
so a form, the API and a test all get the same answer.
"""

import io
import re
from datetime import datetime

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from autodoctor.errors import InvalidInput

# ISO 3779 / 49 CFR 565: letters I, O and Q never appear; position 9 is a check digit.
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    """The check digit (position 9) a 17-character VIN must carry: '0'-'9' or 'X'."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normal_vin(raw: str, *, field: str = "vin") -> str:
    vin = re.sub(r"[\s-]", "", raw or "").upper()
    if not vin:
        return ""
    if len(vin) != 17:
        raise InvalidInput(
            _("A VIN has 17 characters; this one has %(count)s.") % {"count": len(vin)},
            field=field,
        )
    bad = sorted({c for c in vin if c not in _VIN_VALUES})
    if bad:
        raise InvalidInput(
            _("A VIN uses digits and letters except I, O and Q; found %(found)s.")
            % {"found": ", ".join(bad)},
            field=field,
        )
    if vin[8] != vin_check_digit(vin):
        raise InvalidInput(
            _("That VIN does not add up (its check digit is wrong): check for a typo."), field=field
        )
    return vin


_POSTAL = re.compile(r"^([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z])\s?(\d[ABCEGHJ-NPRSTV-Z]\d)$")


def normal_postal_code(raw: str, *, field: str = "postal_code") -> str:
    """A Canadian postal code as 'A1A 1A1' (empty stays empty)."""
    text = (raw or "").strip().upper()
    if not text:
        return ""
    match = _POSTAL.match(text)
    if match is None:
        raise InvalidInput(_("Enter a Canadian postal code like M5V 2T6."), field=field)
    return f"{match.group(1)} {match.group(2)}"


def normal_phone(raw: str, *, field: str = "phone") -> str:
    """A phone number in E.164 (+14165550100). Ten digits are taken as North American."""
    text = (raw or "").strip()
    if not text:
        return ""
    digits = re.sub(r"[\s().-]", "", text)
    if re.fullmatch(r"\d{10}", digits):
        digits = "+1" + digits
    elif re.fullmatch(r"1\d{10}", digits):
        digits = "+" + digits
    if not re.fullmatch(r"\+[1-9]\d{7,14}", digits):
        raise InvalidInput(
            _("Enter a phone number like 416-555-0100 or +44 20 7946 0958."), field=field
        )
    return digits


def check_vehicle_year(year: int, *, now: datetime, field: str = "year") -> int:
    latest = now.year + 1  # next year's models are sold from the summer before
    if not 1900 <= year <= latest:
        raise InvalidInput(
            _("Enter a model year between 1900 and %(latest)s.") % {"latest": latest}, field=field
        )
    return year


PHOTO_SIDE = 512  # pixels: the longest side of a stored photo
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP"}


def photo_normalised(upload: UploadedFile, *, field: str = "photo") -> bytes:
    """The uploaded image as a JPEG of at most PHOTO_SIDE pixels a side, metadata (EXIF
    location, camera) dropped. Refuses files over MECHANIC_PHOTO_MAX_BYTES, files that are
    not JPEG/PNG/WebP images, and images with absurd dimensions (decompression bombs)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    limit = settings.MECHANIC_PHOTO_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise InvalidInput(
            _("The photo is larger than %(size)s MB; pick a smaller one.")
            % {"size": limit // (1024 * 1024)},
            field=field,
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(
            _("The photo is larger than %(size)s MB; pick a smaller one.")
            % {"size": limit // (1024 * 1024)},
            field=field,
        )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            width, height = probe.size
            probe.verify()
        if kind not in PHOTO_FORMATS:
            raise InvalidInput(_("Upload a JPEG, PNG or WebP photo."), field=field)
        if width * height > 40_000_000:
            raise InvalidInput(_("That image is too large (over 40 megapixels)."), field=field)
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)
            image.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidInput(_("That file is not an image we can read."), field=field) from None
    return out.getvalue()
