"""Write tests/data/metadata_set.jsonl: a labelled set of mixed government texts for the metadata reader.

    python scripts/make_metadata_set.py

Each record holds one document's text and what a reader should find in it: title (and, where a one-line
text gives no clear end, title_span, the longest acceptable title), street, district, doc_type and year. The
labels are set by construction, from the parts each text is assembled from, never by running the reader.

The kinds are those of a city's real collection: 街道/镇 work reports, plans and summaries; notices,
opinions and announcements of districts, bureaus and streets; news items; and web texts flattened to one
line. Most bodies name places other than their issuer (各街镇…, 家住康健街道的市民…, 化肥送到星桥镇…,
phrases that end in 镇 or 街道 without being a division), and a set of hand-written texts covers the
fragments a real mixed corpus produced. Deterministic: the same file every run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "metadata_set.jsonl"

# (street, district, city): real township-level divisions; 新华路街道 is one of 12 of that name.
STREETS = [
    ("康健新村街道", "徐汇区", "上海市"),
    ("漕河泾街道", "徐汇区", "上海市"),
    ("曹杨新村街道", "普陀区", "上海市"),
    ("石门二路街道", "静安区", "上海市"),
    ("江宁路街道", "静安区", "上海市"),
    ("泗泾镇", "松江区", "上海市"),
    ("九亭镇", "松江区", "上海市"),
    ("华漕镇", "闵行区", "上海市"),
    ("江川路街道", "闵行区", "上海市"),
    ("淞南镇", "宝山区", "上海市"),
    ("安亭镇", "嘉定区", "上海市"),
    ("马陆镇", "嘉定区", "上海市"),
    ("南京东路街道", "黄浦区", "上海市"),
    ("打浦桥街道", "黄浦区", "上海市"),
    ("四川北路街道", "虹口区", "上海市"),
    ("殷行街道", "杨浦区", "上海市"),
    ("五角场街道", "杨浦区", "上海市"),
    ("花木街道", "浦东新区", "上海市"),
    ("陆家嘴街道", "浦东新区", "上海市"),
    ("张江镇", "浦东新区", "上海市"),
    ("朱家角镇", "青浦区", "上海市"),
    ("庄行镇", "奉贤区", "上海市"),
    ("城桥镇", "崇明区", "上海市"),
    ("大峪街道", "门头沟区", "北京市"),
    ("潭柘寺镇", "门头沟区", "北京市"),
    ("中关村街道", "海淀区", "北京市"),
    ("望京街道", "朝阳区", "北京市"),
    ("什刹海街道", "西城区", "北京市"),
    ("东直门街道", "东城区", "北京市"),
    ("星桥街道", "临平区", "杭州市"),
    ("乔司街道", "临平区", "杭州市"),
    ("良渚街道", "余杭区", "杭州市"),
    ("灵隐街道", "西湖区", "杭州市"),
    ("石牌街道", "天河区", "广州市"),
    ("冼村街道", "天河区", "广州市"),
    ("粤海街道", "南山区", "深圳市"),
    ("蛇口街道", "南山区", "深圳市"),
]
DISTRICTS = [
    ("门头沟区", "北京市"),
    ("徐汇区", "上海市"),
    ("普陀区", "上海市"),
    ("静安区", "上海市"),
    ("松江区", "上海市"),
    ("闵行区", "上海市"),
    ("余杭区", "杭州市"),
    ("临平区", "杭州市"),
    ("天河区", "广州市"),
    ("南山区", "深圳市"),
    ("海淀区", "北京市"),
    ("朝阳区", "北京市"),
    ("浦东新区", "上海市"),
    ("宝山区", "上海市"),
]
BUREAUS = [
    "卫生健康委员会",
    "人民政府办公室",
    "信访办公室",
    "民政局",
    "市场监督管理局",
    "教育局",
    "人力资源和社会保障局",
    "新型冠状病毒肺炎疫情防控工作领导小组办公室",
    "商务委员会",
    "文化和旅游局",
]
CITY_ISSUERS = [
    "上海市卫生健康委员会",
    "杭州市人民政府办公厅",
    "北京市商务局",
    "广州市民政局",
    "深圳市市场监督管理局",
]
SUBJECTS = [
    "暂停接待群众来访",
    "做好新型冠状病毒感染的肺炎疫情防控工作",
    "延迟企业复工",
    "加强春节期间疫情防控",
    "深入开展爱国卫生运动",
    "做好困难群众基本生活保障",
    "实行住宅小区封闭式管理",
    "开展口罩预约登记",
    "暂停公共文化场所开放",
    "减免中小企业房屋租金",
    "做好返岗人员健康管理",
    "招募疫情防控志愿者",
    "开展垃圾分类专项检查",
    "调整社区事务受理服务中心办理时间",
    "做好复工复产疫情防控",
]
ACTIVITIES = [
    "垃圾分类宣传",
    "疫情防控志愿服务",
    "复工复产走访",
    "防汛安全检查",
    "老年人助餐服务",
    "消防安全演练",
    "文明城区创建",
    "邻里节",
    "健康义诊",
]
# Body sentences that name places other than the issuer, the fragments a real corpus produced among them.
MENTIONS = [
    "由乡镇（街道）负责统计上报本辖区情况。",
    "全区各街镇要压实属地责任。",
    "全区12个街镇已全部完成排查。",
    "切实保障城镇困难职工基本生活。",
    "按规定缴纳城镇职工基本养老保险费。",
    "参照2019年度全国城镇居民人均可支配收入标准执行。",
    "对受疫情影响的企业实施用地减征城镇土地使用税。",
    "将重点企业纳入各街道网格化管理。",
    "农技人员把化肥送到星桥镇种植大户手中。",
    "家住康健街道的市民王女士说，服务很贴心。",
    "村长张磊带头坐镇卡口，逐车登记。",
    "长寿路派出所会同街道开展联合排查。",
    "对近日从景德镇返回的人员落实健康监测。",
    "与曹杨新村街道、长征镇联合开展应急演练。",
    "协调漕河泾街道共同做好园区企业服务。",
    "学习借鉴陆家嘴街道“家门口”服务站经验。",
    "安亭镇、马陆镇等地已陆续恢复营业。",
    "组织志愿者前往花木街道支援。",
]
GENERIC = [
    "为切实做好疫情防控工作，保障人民群众生命安全和身体健康，现将有关事项通知如下。",
    "各单位要高度重视，明确专人负责，确保各项措施落实到位。",
    "要加强宣传引导，及时回应群众关切。",
    "对违反规定的，依法依规严肃处理。",
    "要强化值班值守，确保信息畅通。",
    "要做好物资保障，优先满足一线需要。",
    "坚持以人民为中心，统筹推进疫情防控和经济社会发展。",
    "全年共走访企业320家，帮助解决实际困难56个。",
    "新建睦邻点5个，完成加装电梯12台。",
    "深化“一网通办”，实现高频事项100%全程网办。",
]
SHANGHAI_SHORT = {
    "徐汇区": "上海徐汇",
    "普陀区": "上海普陀",
    "静安区": "上海静安",
    "松江区": "上海松江",
    "闵行区": "上海闵行",
    "宝山区": "上海宝山",
    "嘉定区": "上海嘉定",
    "黄浦区": "上海黄浦",
    "虹口区": "上海虹口",
    "杨浦区": "上海杨浦",
    "浦东新区": "上海浦东",
    "青浦区": "上海青浦",
    "奉贤区": "上海奉贤",
    "崇明区": "上海崇明",
}


class Maker:
    def __init__(self, seed: int = 24):
        self.rng = random.Random(seed)
        self.records: list[dict] = []

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def date(self, year: int | None = None) -> tuple[int, int, int]:
        return (
            (year or self.pick([2020, 2020, 2020, 2021, 2019])),
            self.rng.randint(1, 12),
            self.rng.randint(1, 28),
        )

    def body(self, n: int, mention: bool) -> list[str]:
        sentences = [self.pick(GENERIC) for _ in range(n)]
        if mention:
            sentences.insert(self.rng.randrange(len(sentences) + 1), self.pick(MENTIONS))
        return sentences

    def add(self, kind: str, text: str, title: str, street, district, doc_type, year, mentions: bool, **extra):
        record = {
            "id": f"{len(self.records) + 1:03d}",
            "kind": kind,
            "text": text,
            "title": title,
            **extra,
            "street": street,
            "district": district,
            "doc_type": doc_type,
            "year": year,
            "mentions_other_places": mentions,
        }
        self.records.append(record)

    # -------------------------------------------------------------------------------------- street reports
    def street_report(self, one_line: bool = False):
        street, district, city = self.pick(STREETS)
        y, m, d = self.date(self.pick([2019, 2020, 2021, 2022, 2023]))
        form = self.rng.randrange(4)
        if form == 0:
            title, doc_type, year = f"{street}{y - 1}年工作总结", "工作总结", y - 1
        elif form == 1:
            title, doc_type, year = f"{district}{street}{y}年工作计划", "工作计划", y
        elif form == 2:
            title, doc_type, year = f"{y}年{street}社区代表会议上的报告", "工作报告", y - 1
        else:
            title, doc_type, year = f"{street}{y}年工作要点", "工作要点", y
        source = SHANGHAI_SHORT.get(district, f"{city}{district}人民政府")
        header = self.pick(
            [
                f"{y}年{m:02d}月{d:02d}日 来源: {source}",
                f"发文机构:{city}{district}人民政府{street}办事处\n发布日期:{y}-{m:02d}-{d:02d}",
            ]
        )
        mention = self.rng.random() < 0.5
        review = f"一、{y - 1}年工作回顾" if doc_type == "工作报告" else "一、主要工作"
        body = "".join(self.body(3, mention))
        if one_line:
            text = f"{title} {header.replace(chr(10), ' ')} {review} {body}"
        else:
            text = f"{title}\n{header}\n{review}\n{body}\n二、下一步打算\n{''.join(self.body(2, False))}"
        self.add(
            "report" if not one_line else "report_one_line",
            text,
            title,
            street,
            district,
            doc_type,
            year,
            mention,
        )

    # -------------------------------------------------------------------------------------- notices
    def district_notice(self, one_line: bool):
        district, city = self.pick(DISTRICTS)
        bureau = self.pick(BUREAUS)
        subject = self.pick(SUBJECTS)
        y, m, d = self.date()
        kind_word = self.pick(["通知", "通知", "通告", "公告"])
        lead = self.pick(["", city])
        issuer = f"{lead}{district}{bureau}"
        if self.rng.random() < 0.25 and len(f"{issuer}关于印发《{district}{subject}工作方案》的通知") <= 60:
            title, doc_type = f"{issuer}关于印发《{district}{subject}工作方案》的通知", "通知"
        else:
            title, doc_type = f"{issuer}关于{subject}的{kind_word}", kind_word
        salutation = self.pick(
            ["各街镇、各有关单位：", "各街道办事处、镇人民政府：", "广大市民朋友：", "各委、办、局："]
        )
        body = self.body(3, True)
        closing = f"特此通知。{district}{bureau} {y}年{m}月{d}日"
        if one_line:
            header = self.pick([f" 发布时间：{y}-{m:02d}-{d:02d} 来源：{district}人民政府 ", " ", ""])
            text = f"{title}{header}{salutation}{''.join(body)}{closing}"
        else:
            text = (
                f"{title}\n发布日期：{y}-{m:02d}-{d:02d}\n{salutation}\n"
                + "\n".join(body)
                + f"\n特此通知。\n{district}{bureau}\n{y}年{m}月{d}日"
            )
        self.add(
            "district_notice" + ("_one_line" if one_line else ""),
            text,
            title,
            None,
            district,
            doc_type,
            y,
            True,
        )

    def street_notice(self, one_line: bool):
        street, district, city = self.pick(STREETS)
        subject = self.pick(SUBJECTS)
        y, m, d = self.date()
        kind_word = self.pick(["通知", "通告", "倡议书", "公开信"])
        title = {"倡议书": f"{subject}倡议书", "公开信": "致辖区居民的一封公开信"}.get(
            kind_word, f"关于{subject}的{kind_word}"
        )
        org = self.pick(
            [
                f"{street}办事处",
                f"中共{street}工作委员会 {street}办事处",
                f"{street}人民政府" if street.endswith("镇") else f"{street}办事处",
            ]
        )
        mention = self.rng.random() < 0.6
        body = self.body(3, mention)
        salutation = self.pick(["各居民区、各有关单位：", "广大居民朋友们：", "辖区各企业："])
        if one_line:
            text = f"{title} {salutation}{''.join(body)}特此通知。{org} {y}年{m}月{d}日"
        else:
            text = f"{title}\n{salutation}\n" + "\n".join(body) + f"\n{org}\n{y}年{m}月{d}日"
        self.add(
            "street_notice" + ("_one_line" if one_line else ""),
            text,
            title,
            street,
            district,
            kind_word,
            y,
            mention,
        )

    def policy(self):
        district, city = self.pick(DISTRICTS)
        y, m, d = self.date(2020)
        word, doc_type = self.pick(
            [("若干意见", "意见"), ("实施方案", "方案"), ("管理办法", "办法"), ("若干措施的通知", "通知")]
        )
        topic = self.pick(
            [
                "支持中小企业共渡难关",
                "全力防控疫情支持服务企业平稳健康发展",
                "加强社区疫情防控",
                "稳定和促进就业",
            ]
        )
        title = f"{district}关于{topic}的{word}"
        text = (
            f"{title}\n发布日期：{y}-{m:02d}-{d:02d}\n"
            + "\n".join(self.body(4, True))
            + f"\n{district}人民政府\n{y}年{m}月{d}日"
        )
        self.add("policy", text, title, None, district, doc_type, y, True)

    def city_notice(self):
        issuer = self.pick(CITY_ISSUERS)
        y, m, d = self.date(2020)
        subject = self.pick(SUBJECTS)
        title = f"{issuer}关于{subject}的通知"
        text = f"{title} 各区卫生健康委、各街镇：{''.join(self.body(3, True))}{issuer} {y}年{m}月{d}日"
        self.add("city_notice_one_line", text, title, None, None, "通知", y, True)

    # -------------------------------------------------------------------------------------- news
    def street_news(self):
        street, district, city = self.pick(STREETS)
        activity = self.pick(ACTIVITIES)
        y, m, d = self.date(2020)
        title = f"{street}开展{activity}活动"
        mention = self.rng.random() < 0.6
        body = "".join(self.body(2, mention))
        form = self.rng.randrange(3)
        if form == 0:
            text = f"{title} 发布时间：{y}-{m:02d}-{d:02d} {m}月{d}日上午，{street}组织志愿者开展{activity}。{body}"
        elif form == 1:
            text = f"{title}{m}月{d}日上午，{street}组织志愿者开展{activity}。{body}"
            y = None  # the text never says the year
        else:
            text = (
                f"{title}\n{y}-{m:02d}-{d:02d} 来源：{city}{district}融媒体中心\n近日，{street}开展{activity}。\n{body}"
            )
        self.add("street_news", text, title, street, district, "新闻", y, mention)

    def district_news(self):
        district, city = self.pick(DISTRICTS)
        y, m, d = self.date(2020)
        title = f"{district}召开{self.pick(['疫情防控工作推进会', '复工复产工作会议', '垃圾分类工作现场会'])}"
        text = (
            f"{title} 发布时间：{y}-{m:02d}-{d:02d} {m}月{d}日下午，{district}召开会议。{''.join(self.body(2, True))}"
        )
        self.add("district_news", text, title, None, district, "新闻", y, True)

    def place_in_body_news(self):
        street, district, city = self.pick(STREETS)
        y, m, d = self.date(2020)
        title = self.pick(
            [
                f"副区长赴{street}检查复工复产工作",
                f"市民在{street}体验“一网通办”新服务",
                "口罩预约购买有了新办法",
                "社区防控一线的“守门人”",
                "这个春节，他们坚守在防疫一线",
            ]
        )
        body = f"记者从有关部门获悉，{self.pick(MENTIONS)}{street}相关负责人介绍，{''.join(self.body(1, False))}"
        text = f"{title} 发布时间：{y}-{m:02d}-{d:02d} {body}"
        self.add("news_place_in_body", text, title, None, None, "新闻", y, True)


# Hand-written texts: the fragments of the issue, long one-line notices whose title ends at its type word,
# and headers that name a street only in passing.
HANDWRITTEN = [
    dict(
        kind="one_line_notice",
        text="门头沟区信访办公室关于暂停接待群众来访的通知各位来访群众：为做好新型冠状病毒感染的肺炎疫情防控工作，有效减少人员聚集，经研究决定，自2020年1月29日起暂停接待群众来访。群众可通过网上信访、书信等方式反映诉求。由乡镇（街道）信访办同步做好解释工作。门头沟区信访办公室 2020年1月28日",
        title="门头沟区信访办公室关于暂停接待群众来访的通知",
        street=None,
        district="门头沟区",
        doc_type="通知",
        year=2020,
    ),
    dict(
        kind="one_line_notice",
        text="关于做好春节期间疫情防控工作的通知 各居委会、各有关单位：根据区防控工作要求，现将有关事项通知如下：一、各居委会要落实值班制度；二、全区各街镇开展联防联控。大峪街道办事处 2020年1月24日",
        title="关于做好春节期间疫情防控工作的通知",
        street="大峪街道",
        district="门头沟区",
        doc_type="通知",
        year=2020,
    ),
    dict(
        kind="news",
        text="化肥送到田间地头 春耕备耕不误农时 近日，农技人员把化肥送到星桥镇种植大户手中，保障春耕生产。",
        title="化肥送到田间地头",
        title_span="化肥送到田间地头 春耕备耕不误农时",
        street=None,
        district=None,
        doc_type="新闻",
        year=None,
    ),
    dict(
        kind="news",
        text="家住康健街道的市民：社区食堂恢复堂食 记者近日走访发现，家住康健街道的市民王女士已经在社区食堂吃上了热饭。",
        title="家住康健街道的市民：社区食堂恢复堂食",
        street=None,
        district=None,
        doc_type="新闻",
        year=None,
    ),
    dict(
        kind="news",
        text="村长张磊带头坐镇卡口 2月3日上午，记者来到村口卡点，村长张磊带头坐镇，逐车登记。",
        title="村长张磊带头坐镇卡口",
        street=None,
        district=None,
        doc_type="新闻",
        year=None,
    ),
    dict(
        kind="news",
        text="长寿路派出所会同街道开展出租房屋排查 发布时间：2020-02-06 近日，长寿路派出所会同街道对辖区出租房屋开展排查。",
        title="长寿路派出所会同街道开展出租房屋排查",
        street=None,
        district=None,
        doc_type="新闻",
        year=2020,
    ),
    dict(
        kind="news",
        text="景德镇来沪人员健康管理有序开展 发布时间：2020-02-10 记者获悉，对近日从景德镇返回的人员，社区已落实健康监测。",
        title="景德镇来沪人员健康管理有序开展",
        street=None,
        district=None,
        doc_type="新闻",
        year=2020,
    ),
    dict(
        kind="notice",
        text="关于缴纳城镇职工基本养老保险有关事项的通知\n发布日期：2020-03-02\n各参保单位：\n受疫情影响的企业可延期缴纳城镇职工基本养老保险费，度全国城镇居民人均可支配收入调整后另行通知。\n上海市人力资源和社会保障局\n2020年3月1日",
        title="关于缴纳城镇职工基本养老保险有关事项的通知",
        street=None,
        district=None,
        doc_type="通知",
        year=2020,
    ),
    dict(
        kind="notice",
        text="企业纳入各街道网格化管理的实施方案\n各街道、镇：\n将重点企业纳入各街道网格化管理，对受疫情影响的企业实施用地减征城镇土地使用税。\n徐汇区人民政府\n2020年2月20日",
        title="企业纳入各街道网格化管理的实施方案",
        street=None,
        district="徐汇区",
        doc_type="方案",
        year=2020,
    ),
    dict(
        kind="notice",
        text="2020年2月工作简报\n来源：保障城镇困难群众工作专班\n本月共发放临时救助金120万元，个街镇完成入户核查。",
        title="2020年2月工作简报",
        street=None,
        district=None,
        doc_type="简报",
        year=2020,
    ),
    dict(
        kind="one_line_notice",
        text="上海市徐汇区人民政府办公室关于印发《徐汇区关于全力防控疫情支持服务企业平稳健康发展的若干政策措施》的通知 各街道、镇，区政府各委、办、局：经区政府同意，现将《若干政策措施》印发给你们，请认真按照执行。上海市徐汇区人民政府办公室 2020年2月12日",
        title="上海市徐汇区人民政府办公室关于印发《徐汇区关于全力防控疫情支持服务企业平稳健康发展的若干政策措施》的通知",
        street=None,
        district="徐汇区",
        doc_type="通知",
        year=2020,
    ),
    dict(
        kind="report",
        text="首页 > 政务公开 > 工作报告\n2021年曹杨新村街道社区代表会议上的报告\n2021年01月22日 来源: 上海普陀\n一、2020年工作回顾\n与长征镇、真如镇街道联合开展联防联控。",
        title="2021年曹杨新村街道社区代表会议上的报告",
        street="曹杨新村街道",
        district="普陀区",
        doc_type="工作报告",
        year=2020,
    ),
    dict(
        kind="report",
        text="新华路街道2020年工作总结\n  • 发文机构:上海市长宁区人民政府新华路街道办事处\n  • 发布日期:2021-01-20\n2020年，新华路街道坚持统筹疫情防控和经济社会发展。",
        title="新华路街道2020年工作总结",
        street="新华路街道",
        district="长宁区",
        doc_type="工作总结",
        year=2020,
    ),
    dict(
        kind="news",
        text="各街镇全力做好复工复产服务 发布时间：2020-02-18 来源：松江区融媒体中心 连日来，泗泾镇、九亭镇等各街镇主动上门服务企业。",
        title="各街镇全力做好复工复产服务",
        street=None,
        district="松江区",
        doc_type="新闻",
        year=2020,
    ),
    dict(
        kind="news",
        text="【战疫一线】花木街道：楼组长成了“守门人” 发布时间：2020-02-08 近日，花木街道各居民区的楼组长主动担起守门人职责。",
        title="【战疫一线】花木街道：楼组长成了“守门人”",
        street="花木街道",
        district="浦东新区",
        doc_type="新闻",
        year=2020,
    ),
    dict(
        kind="report",
        text="泗泾镇人民政府2020年政府工作报告\n发布日期：2020-01-10\n一、2019年工作回顾\n过去一年，泗泾镇全面完成各项目标任务，与九亭镇协同推进交通建设。",
        title="泗泾镇人民政府2020年政府工作报告",
        street="泗泾镇",
        district="松江区",
        doc_type="工作报告",
        year=2019,
    ),
    dict(
        kind="news",
        text="我区由乡镇牵头建立返岗人员台账 发布时间：2020-02-12 记者获悉，由乡镇牵头、村居配合，建立返岗人员台账。",
        title="我区由乡镇牵头建立返岗人员台账",
        street=None,
        district=None,
        doc_type="新闻",
        year=2020,
    ),
    # Red-head documents: the issuer's header line and document number come before the title.
    dict(
        kind="notice",
        text="中共曹家渡街道工作委员会文件\n曹家渡街工委〔2020〕3号\n关于成立曹家渡街道新冠肺炎疫情防控工作领导小组的通知\n各居民区党组织、各科室：\n为加强对疫情防控工作的领导，经研究，决定成立领导小组。江宁路街道、石门二路街道已先行成立。\n中共曹家渡街道工作委员会\n2020年1月26日",
        title="关于成立曹家渡街道新冠肺炎疫情防控工作领导小组的通知",
        street="曹家渡街道",
        district="静安区",
        doc_type="通知",
        year=2020,
    ),
    dict(
        kind="notice",
        text="上海市徐汇区人民政府文件\n徐府发〔2020〕5号\n上海市徐汇区人民政府关于进一步做好稳就业工作的意见\n各街道办事处、华泾镇人民政府，区政府各委、办、局：\n现就进一步做好稳就业工作提出如下意见。康健新村街道、漕河泾街道要做好园区服务。\n上海市徐汇区人民政府\n2020年4月3日",
        title="上海市徐汇区人民政府关于进一步做好稳就业工作的意见",
        street=None,
        district="徐汇区",
        doc_type="意见",
        year=2020,
    ),
    # Official dates are often written in Chinese numerals.
    dict(
        kind="notice",
        text="关于加强辖区出租房屋管理的通告\n广大居民：\n为做好疫情防控，现就加强出租房屋管理通告如下。\n北新泾街道办事处\n二〇二〇年二月五日",
        title="关于加强辖区出租房屋管理的通告",
        street="北新泾街道",
        district="长宁区",
        doc_type="通告",
        year=2020,
    ),
    dict(
        kind="one_line_notice",
        text="关于暂停横沙乡至长兴镇客运班线的公告 各位旅客：受疫情影响，自即日起暂停横沙乡至长兴镇客运班线。恢复时间另行通知。上海市崇明区交通委员会 二〇二〇年一月三十一日",
        title="关于暂停横沙乡至长兴镇客运班线的公告",
        street=None,
        district="崇明区",
        doc_type="公告",
        year=2020,
    ),
    # Joint issuers: two bodies of one district.
    dict(
        kind="notice",
        text="关于做好困难群众临时救助工作的通知\n各街道、镇：\n请各街道、镇按照要求做好临时救助。\n徐汇区民政局 徐汇区财政局\n2020年2月14日",
        title="关于做好困难群众临时救助工作的通知",
        street=None,
        district="徐汇区",
        doc_type="通知",
        year=2020,
    ),
    # A page's navigation trail before the title on the same line.
    dict(
        kind="news_one_line",
        text="您当前的位置：首页 > 新闻中心 > 街镇动态 曹杨新村街道开展垃圾分类宣传活动 发布时间：2020-06-12 来源：普陀区融媒体中心 6月10日上午，曹杨新村街道在社区广场开展垃圾分类宣传活动，长征镇志愿者也赶来助阵。",
        title="曹杨新村街道开展垃圾分类宣传活动",
        street="曹杨新村街道",
        district="普陀区",
        doc_type="新闻",
        year=2020,
    ),
    dict(
        kind="news_one_line",
        text="当前位置：首页>政务公开>通知公告 关于调整社区事务受理服务中心办理时间的通知 各位居民：自2020年2月10日起，中心办理时间调整为上午9:00至下午4:00。天平路街道社区事务受理服务中心 2020年2月8日",
        title="关于调整社区事务受理服务中心办理时间的通知",
        street="天平路街道",
        district="徐汇区",
        doc_type="通知",
        year=2020,
    ),
    # Titles that lead with a street they are about, not one that issued them.
    dict(
        kind="news",
        text="康健新村街道、漕河泾街道入选首批垃圾分类示范街镇 发布时间：2020-09-01 来源：徐汇区绿化和市容管理局 记者从区绿化市容局获悉，康健新村街道、漕河泾街道入选首批示范街镇。",
        title="康健新村街道、漕河泾街道入选首批垃圾分类示范街镇",
        street=None,
        district="徐汇区",
        doc_type="新闻",
        year=2020,
    ),
    dict(
        kind="news",
        text="华漕镇等5个街镇获评市级平安示范街镇\n2020-12-20 来源：闵行区融媒体中心\n近日，市平安办公布名单，华漕镇等5个街镇获评市级平安示范街镇。",
        title="华漕镇等5个街镇获评市级平安示范街镇",
        street=None,
        district="闵行区",
        doc_type="新闻",
        year=2020,
    ),
    # A source field that names a street is its issuer.
    dict(
        kind="news",
        text="楼组长成了防疫“守门人”\n发布时间：2020-02-09 来源：虹桥街道\n近日，虹桥街道各居民区楼组长主动担起守门人职责。",
        title="楼组长成了防疫“守门人”",
        street="虹桥街道",
        district="长宁区",
        doc_type="新闻",
        year=2020,
    ),
    dict(
        kind="notice",
        text="索引号：310115-2020-0031 发布机构：浦东新区人民政府陆家嘴街道办事处 发布日期：2020-03-05 关于做好复工复产企业疫情防控指导的通知 辖区各企业：请各企业落实主体责任，学习借鉴花木街道、张江镇的经验做法。",
        title="关于做好复工复产企业疫情防控指导的通知",
        street="陆家嘴街道",
        district="浦东新区",
        doc_type="通知",
        year=2020,
    ),
    # Plans, summaries and numbered announcements.
    dict(
        kind="plan",
        text="枫泾镇国民经济和社会发展第十四个五年规划纲要（2021-2025年）\n发布日期：2021-03-10\n第一章 发展基础\n“十三五”期间，枫泾镇与新浜镇、廊下镇协同发展。",
        title="枫泾镇国民经济和社会发展第十四个五年规划纲要（2021-2025年）",
        street="枫泾镇",
        district="金山区",
        doc_type="规划",
        year=2021,
    ),
    dict(
        kind="notice",
        text="上海市徐汇区市场监督管理局公告（2020年第3号）\n根据疫情防控需要，现将有关事项公告如下。\n上海市徐汇区市场监督管理局\n2020年2月3日",
        title="上海市徐汇区市场监督管理局公告（2020年第3号）",
        street=None,
        district="徐汇区",
        doc_type="公告",
        year=2020,
    ),
    dict(
        kind="report",
        text="洞泾镇2019年工作总结和2020年工作计划\n发布日期：2020-01-15\n一、2019年工作总结\n全年完成各项目标任务，九亭镇、泗泾镇等兄弟镇给予大力支持。",
        title="洞泾镇2019年工作总结和2020年工作计划",
        street="洞泾镇",
        district="松江区",
        doc_type="工作计划",
        year=2019,
    ),
    # A report whose title and header name the street only by its short brand (活力曹杨): the reader cannot know.
    dict(
        kind="report",
        text="活力曹杨2020年工作总结\n2021年01月15日 来源: 上海普陀\n2020年，街道统筹推进疫情防控和经济社会发展，全年新增就业岗位1200个。",
        title="活力曹杨2020年工作总结",
        street="曹杨新村街道",
        names_issuer=False,
        district="普陀区",
        doc_type="工作总结",
        year=2020,
    ),
    # Single-line texts with no separator between title and body.
    dict(
        kind="one_line_notice",
        text="关于延迟开学的通知各位家长：根据市教委统一部署，本市中小学延迟开学，具体时间另行通知。嘉定区教育局2020年2月1日",
        title="关于延迟开学的通知",
        street=None,
        district="嘉定区",
        doc_type="通知",
        year=2020,
    ),
    dict(
        kind="news_one_line",
        text="马陆镇葡萄种植户线上卖葡萄8月5日，记者在马陆镇看到，种植户们通过直播销售葡萄，安亭镇、华亭镇的农户也前来取经。",
        title="马陆镇葡萄种植户线上卖葡萄",
        street="马陆镇",
        district="嘉定区",
        doc_type="新闻",
        year=None,
    ),
    dict(
        kind="news_one_line",
        text="全市城镇新增就业岗位同比增长百分之五记者从市人社局获悉，今年前三季度全市城镇新增就业岗位同比增长百分之五，其中由乡镇企业吸纳的占三成。",
        title="全市城镇新增就业岗位同比增长百分之五",
        street=None,
        district=None,
        doc_type="新闻",
        year=None,
    ),
    # Written after the reader, and scored as they came (see the README).
    dict(
        kind="notice",
        text="上海市闵行区人民政府关于印发闵行区2020年政府工作报告重点工作分解方案的通知\n发布日期：2020-02-20\n各镇人民政府、街道办事处：\n现将分解方案印发给你们，请认真贯彻执行。\n上海市闵行区人民政府\n2020年2月18日",
        title="上海市闵行区人民政府关于印发闵行区2020年政府工作报告重点工作分解方案的通知",
        street=None,
        district="闵行区",
        doc_type="通知",
        year=2020,
    ),
    dict(
        kind="news",
        text="【华漕镇】防疫物资送到企业门口\n2020-02-14\n来源：华漕镇\n2月13日，华漕镇为辖区企业发放防疫物资。",
        title="【华漕镇】防疫物资送到企业门口",
        street="华漕镇",
        district="闵行区",
        doc_type="新闻",
        year=2020,
    ),
    dict(
        kind="notice",
        text="江川路街道办事处关于2020年度社区公益项目评审结果的公示\n发布日期：2020-04-08\n经评审，以下项目拟予立项。\n江川路街道办事处\n2020年4月8日",
        title="江川路街道办事处关于2020年度社区公益项目评审结果的公示",
        street="江川路街道",
        district="闵行区",
        doc_type="公示",
        year=2020,
    ),
    dict(
        kind="one_line_notice",
        text="静安区关于做好2020年元旦春节期间走访慰问工作的通知 发布时间：2019-12-20 各街道、镇：为做好元旦春节期间走访慰问工作，现将有关事项通知如下。静安区民政局 2019年12月18日",
        title="静安区关于做好2020年元旦春节期间走访慰问工作的通知",
        street=None,
        district="静安区",
        doc_type="通知",
        year=2020,
    ),
    dict(
        kind="notice",
        text="关于印发《打浦桥街道2020年工作要点》的通知\n各科室、各居民区：\n现将《打浦桥街道2020年工作要点》印发给你们，请结合实际认真贯彻落实。\n打浦桥街道办事处\n2020年3月2日",
        title="关于印发《打浦桥街道2020年工作要点》的通知",
        street="打浦桥街道",
        district="黄浦区",
        doc_type="通知",
        year=2020,
    ),
    dict(
        kind="news",
        text="星桥街道：一场特殊的“云婚礼”\n2020-02-16\n疫情期间，星桥街道一对新人通过网络直播举行婚礼，乔司街道的亲友在线送上祝福。",
        title="星桥街道：一场特殊的“云婚礼”",
        street="星桥街道",
        district="临平区",
        doc_type="新闻",
        year=2020,
    ),
    dict(
        kind="notice",
        text="望京街道关于招募防疫志愿者的公告\n发布时间：2020-02-03\n因疫情防控需要，现面向辖区招募志愿者。\n联系人：张先生\n联系电话：64700000\n2020年2月3日",
        title="望京街道关于招募防疫志愿者的公告",
        street="望京街道",
        district="朝阳区",
        doc_type="公告",
        year=2020,
    ),
    dict(
        kind="report",
        text="徐汇区2019年政府工作报告\n发布日期：2019-01-18\n一、2018年工作回顾\n过去一年，全区各街镇共完成旧区改造2万平方米，漕河泾街道、康健新村街道加装电梯50台。",
        title="徐汇区2019年政府工作报告",
        street=None,
        district="徐汇区",
        doc_type="工作报告",
        year=2018,
    ),
    dict(
        kind="news_one_line",
        text="全力以赴打赢疫情防控阻击战全区上下众志成城共克时艰各级党组织和广大党员干部冲锋在前守土有责守土担责守土尽责确保人民群众生命安全和身体健康",
        title="全力以赴打赢疫情防控阻击战",
        title_span="全力以赴打赢疫情防控阻击战全区上下众志成城共克时艰各级党组织和广大党员干部冲锋在前守土有责守土担责守土尽责确保人民群众生命安全",
        street=None,
        district=None,
        doc_type=None,
        year=None,
    ),
    dict(
        kind="report",
        text="横沙乡2020年工作总结\n2021年01月12日 来源: 上海崇明\n2020年，横沙乡统筹推进疫情防控和乡村振兴，与长兴镇开展结对合作。",
        title="横沙乡2020年工作总结",
        street="横沙乡",
        district="崇明区",
        doc_type="工作总结",
        year=2020,
    ),
    dict(
        kind="report",
        text="城关镇2020年工作总结\n发布日期：2021-01-10 来源：永登县人民政府\n2020年，城关镇全面完成各项目标任务。",
        title="城关镇2020年工作总结",
        street="城关镇",
        district="永登县",
        doc_type="工作总结",
        year=2020,
    ),
    dict(
        kind="notice",
        text="关于做好节后返城人员服务管理工作的通知\n各街道办事处、镇人民政府：\n请各街镇做好返城人员服务管理工作。\n上海市普陀区人民政府\n2020年2月1日\n（此件公开发布）",
        title="关于做好节后返城人员服务管理工作的通知",
        street=None,
        district="普陀区",
        doc_type="通知",
        year=2020,
    ),
    dict(
        kind="news",
        text="长宁区推进老旧小区加装电梯\n记者 王明\n本报讯 今年以来，长宁区北新泾街道、新华路街道加装电梯进度加快。",
        title="长宁区推进老旧小区加装电梯",
        street=None,
        district="长宁区",
        doc_type="新闻",
        year=None,
    ),
    dict(
        kind="notice",
        text="关于延长2020年春节假期的通告\n广大市民朋友：\n经研究，延长春节假期至2月2日。全区各街镇要做好宣传。\n杭州市余杭区人民政府\n2020年1月27日",
        title="关于延长2020年春节假期的通告",
        street=None,
        district="余杭区",
        doc_type="通告",
        year=2020,
    ),
]


def main() -> None:
    maker = Maker()
    for _ in range(24):
        maker.street_report()
    for _ in range(6):
        maker.street_report(one_line=True)
    for _ in range(14):
        maker.district_notice(one_line=False)
    for _ in range(18):
        maker.district_notice(one_line=True)
    for _ in range(12):
        maker.street_notice(one_line=False)
    for _ in range(12):
        maker.street_notice(one_line=True)
    for _ in range(8):
        maker.policy()
    for _ in range(6):
        maker.city_notice()
    for _ in range(14):
        maker.street_news()
    for _ in range(8):
        maker.district_news()
    for _ in range(12):
        maker.place_in_body_news()
    for record in HANDWRITTEN:
        mentions = record["kind"] != "report" or "联合" in record["text"]
        maker.add(record.pop("kind"), record.pop("text"), record.pop("title"), mentions=mentions, **record)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in maker.records), encoding="utf-8")
    print(f"{len(maker.records)} documents -> {OUT}")


if __name__ == "__main__":
    main()
