"""Names, e-mail addresses and phone numbers for simulated Koreans, drawn in bulk."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from custodes.simulate.strings import join, numbered, pick

SURNAMES = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권", "황"]
SURNAMES_LATIN = ["kim", "lee", "park", "choi", "jung", "kang", "cho", "yoon", "jang", "lim",
                  "han", "oh", "seo", "shin", "kwon", "hwang"]
# Share of the population by surname (Kim, Lee and Park are nearly half of Korea).
SURNAME_WEIGHTS = np.array([21.5, 14.7, 8.4, 4.7, 4.4, 2.4, 2.1, 2.0, 2.0, 1.6, 1.5, 1.5, 1.5, 1.5, 1.4, 1.4])
GIVEN = ["민", "서", "지", "준", "현", "우", "예", "도", "하", "윤", "수", "연", "은", "재", "영", "진",
         "혜", "성", "유", "주", "채", "원", "아", "태"]
GIVEN_LATIN = ["min", "seo", "ji", "jun", "hyun", "woo", "ye", "do", "ha", "yoon", "su", "yeon",
               "eun", "jae", "young", "jin", "hye", "sung", "yu", "ju", "chae", "won", "a", "tae"]
MAIL_DOMAINS = ["naver.com", "gmail.com", "daum.net", "kakao.com", "hanmail.net", "nate.com"]
MAIL_WEIGHTS = np.array([42, 30, 9, 8, 7, 4], dtype=np.float64)


def people(rng: np.random.Generator, n: int) -> dict[str, pa.Array]:
    """``name`` (Hangul), ``email`` and ``phone`` (010-XXXX-XXXX) for n people."""
    sur = rng.choice(len(SURNAMES), size=n, p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum())
    g1 = rng.integers(0, len(GIVEN), size=n)
    g2 = rng.integers(0, len(GIVEN), size=n)
    name = join([pick(SURNAMES, sur), pick(GIVEN, g1), pick(GIVEN, g2)])
    number = rng.integers(10, 10_000, size=n)
    local = join([pick(GIVEN_LATIN, g1), pick(GIVEN_LATIN, g2), pick(SURNAMES_LATIN, sur),
                  numbered("", number, 4)])
    domain = pick(MAIL_DOMAINS, rng.choice(len(MAIL_DOMAINS), size=n, p=MAIL_WEIGHTS / MAIL_WEIGHTS.sum()))
    email = join([local, domain], "@")
    phone = join(["010", numbered("", rng.integers(2000, 10_000, size=n), 4),
                  numbered("", rng.integers(0, 10_000, size=n), 4)], "-")
    return {"name": name, "email": email, "phone": phone}
