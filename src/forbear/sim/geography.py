"""Where demo borrowers live: provinces, cities and districts with their GB/T 2260 codes.

The district code (6 digits) is also the first part of a resident ID number issued there
(GB 11643). Shares are rough: Henan (河南) is over-represented, as it is in the books of
the central-China lenders Forbear is first built for.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class District:
    province: str
    city: str
    district: str
    code: str  # GB/T 2260 administrative division code


# province -> (share of borrowers, {city: [(district, code), ...]})
_TABLE: dict[str, tuple[float, dict[str, list[tuple[str, str]]]]] = {
    "河南省": (
        0.22,
        {
            "郑州市": [("中原区", "410102"), ("二七区", "410103"), ("金水区", "410105")],
            "洛阳市": [("老城区", "410302"), ("西工区", "410303"), ("涧西区", "410305")],
            "南阳市": [("宛城区", "411302"), ("卧龙区", "411303")],
            "新乡市": [("红旗区", "410702"), ("卫滨区", "410703")],
            "开封市": [("龙亭区", "410202"), ("鼓楼区", "410204")],
            "商丘市": [("梁园区", "411402"), ("睢阳区", "411403")],
            "周口市": [("川汇区", "411602")],
            "信阳市": [("浉河区", "411502"), ("平桥区", "411503")],
            "安阳市": [("文峰区", "410502"), ("北关区", "410503")],
        },
    ),
    "广东省": (
        0.12,
        {
            "广州市": [("越秀区", "440104"), ("海珠区", "440105"), ("天河区", "440106")],
            "深圳市": [("罗湖区", "440303"), ("福田区", "440304"), ("南山区", "440305")],
            "佛山市": [("禅城区", "440604"), ("顺德区", "440606")],
        },
    ),
    "山东省": (
        0.08,
        {
            "济南市": [("历下区", "370102"), ("市中区", "370103")],
            "青岛市": [("市南区", "370202"), ("市北区", "370203")],
            "临沂市": [("兰山区", "371302")],
        },
    ),
    "江苏省": (
        0.07,
        {
            "南京市": [("玄武区", "320102"), ("秦淮区", "320104")],
            "苏州市": [("虎丘区", "320505"), ("吴中区", "320506")],
            "徐州市": [("鼓楼区", "320302"), ("云龙区", "320303")],
        },
    ),
    "河北省": (
        0.06,
        {
            "石家庄市": [("长安区", "130102"), ("桥西区", "130104")],
            "邯郸市": [("邯山区", "130402")],
        },
    ),
    "四川省": (
        0.06,
        {
            "成都市": [("锦江区", "510104"), ("青羊区", "510105"), ("武侯区", "510107")],
            "南充市": [("顺庆区", "511302")],
        },
    ),
    "安徽省": (
        0.05,
        {
            "合肥市": [("瑶海区", "340102"), ("庐阳区", "340103"), ("蜀山区", "340104")],
            "阜阳市": [("颍州区", "341202")],
        },
    ),
    "湖北省": (
        0.05,
        {"武汉市": [("江岸区", "420102"), ("江汉区", "420103"), ("武昌区", "420106")]},
    ),
    "湖南省": (
        0.05,
        {"长沙市": [("芙蓉区", "430102"), ("天心区", "430103"), ("岳麓区", "430104")]},
    ),
    "浙江省": (
        0.05,
        {
            "杭州市": [("上城区", "330102"), ("西湖区", "330106")],
            "温州市": [("鹿城区", "330302")],
        },
    ),
    "北京市": (
        0.03,
        {"北京市": [("东城区", "110101"), ("朝阳区", "110105"), ("海淀区", "110108")]},
    ),
    "上海市": (
        0.03,
        {"上海市": [("黄浦区", "310101"), ("徐汇区", "310104"), ("浦东新区", "310115")]},
    ),
    "江西省": (0.03, {"南昌市": [("东湖区", "360102"), ("西湖区", "360103")]}),
    "福建省": (
        0.03,
        {
            "福州市": [("鼓楼区", "350102"), ("台江区", "350103")],
            "厦门市": [("思明区", "350203"), ("湖里区", "350206")],
        },
    ),
    "陕西省": (
        0.03,
        {"西安市": [("新城区", "610102"), ("碑林区", "610103"), ("雁塔区", "610113")]},
    ),
    "广西壮族自治区": (0.02, {"南宁市": [("兴宁区", "450102"), ("青秀区", "450103")]}),
    "重庆市": (
        0.02,
        {"重庆市": [("渝中区", "500103"), ("江北区", "500105"), ("沙坪坝区", "500106")]},
    ),
}

HENAN = "河南省"


def districts() -> tuple[list[District], list[float]]:
    """Every district with its share of borrowers (province share split evenly below it).

    Within a province each city gets an equal share, and within a city each district.
    """
    rows: list[District] = []
    weights: list[float] = []
    for province, (share, cities) in _TABLE.items():
        for city, parts in cities.items():
            for district, code in parts:
                rows.append(District(province, city, district, code))
                weights.append(share / len(cities) / len(parts))
    total = sum(weights)
    return rows, [w / total for w in weights]
