"""End of conversation: does the user's latest message close the conversation?

`detect(text, history)` scores transparent rules, offline, in Chinese, English or a mix of both. Each rule
that fires adds its weight (WEIGHTS) to a sum that starts at WEIGHTS["bias"]; the message ends the
conversation when the sum is at least 0, and `score` is the logistic of the sum. Every rule that fired is
listed in `Verdict.cues` as "rule:matched text".

The rules, in the order they read the message (each consumes the words it explains):
1. asking about a word ("“再见”用英语怎么说", "how do you say goodbye"): the closing word is not meant;
2. not wanting to end ("先别结束", "don't end the chat") and holding on ("等一下", "wait");
3. closing cues: goodbye, wishes, asking to end, "that's all / 没有了", thanks, "got it / 知道了";
4. more to ask ("另外", "one more question"), then plain acknowledgements ("OK", "好的");
5. a bare yes or no, read against the assistant's last turn: after "还有其他问题吗？ / anything else?" a
   "没有 / no" ends and "有 / yes" does not; after "is that all?" it is the other way round;
6. what no cue explained: a question, a request or a complaint there continues the conversation, other
   leftover content weakens a closing, and a message that ends on its closing cue is strengthened.
History is context only: the assistant's text is never read as the user's intent. Only a bounded window
of a long message is read, and length itself weighs against ending: about 0.1 ms a message, under 1 ms at worst.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, NamedTuple

WINDOW = 160  # characters read: the head and tail of a longer message (bounds the work; farewells are short)
LONG = 160  # a message longer than this weighs against ending
CONFIDENT = 1.5  # |sum| at or above this is far enough from the boundary to skip the judge


class Usage(NamedTuple):
    """Tokens an LLM judge spent on a verdict; None on a verdict that cost nothing."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Verdict:
    is_end: bool
    score: float  # 0..1, how likely it is that the user means to end; is_end == (score >= 0.5) for rules
    reason: str  # one line, the strongest rules and their weights, or the judge's reason
    cues: tuple[str, ...]  # "rule:matched text" for every rule that fired
    confident: bool  # far from the boundary: no need to ask the judge
    method: str = "rules"  # or "judge"
    usage: Usage | None = None


WEIGHTS: dict[str, float] = {
    "bias": -1.5,
    "meta": -6.0,
    "negated_end": -6.0,
    "hold": -4.0,
    "goodbye": 4.0,
    "wish": 3.0,
    "end_request": 4.0,
    "no_more": 3.5,
    "thanks": 2.2,
    "praise": 1.6,
    "understood": 2.0,
    "more": -3.5,
    "ack": 0.6,
    "no_after_anything_else": 3.5,
    "no_after_offer": 1.2,
    "no": 0.5,
    "yes_after_anything_else": -3.0,
    "yes_after_offer": -2.5,
    "yes_to_is_that_all": 2.5,
    "assistant_closed": 1.0,
    "question": -5.0,
    "request": -4.0,
    "follow_on": -2.0,
    "complaint": -2.5,  # "还是报错", "it still doesn't work": the problem is not solved
    "answers_question": -2.0,
    "leftover": -0.35,  # per word no cue explains, beyond the first 1.5 (a Chinese character is half a word)
    "ends_on_closing": 0.8,
    "long": -2.0,
}

LABELS = {
    "meta": "asks about the word", "negated_end": "does not want to end", "hold": "asks to wait",
    "goodbye": "says goodbye", "wish": "closing wish", "end_request": "asks to end",
    "no_more": "needs nothing more", "thanks": "thanks", "praise": "praises the help", "understood": "got it",
    "more": "has more to ask", "ack": "acknowledges", "no_after_anything_else": "'no' to 'anything else?'",
    "no_after_offer": "declines the offer", "no": "says no", "yes_after_anything_else": "'yes' to 'anything else?'",
    "yes_after_offer": "accepts the offer", "yes_to_is_that_all": "'yes' to 'is that all?'",
    "assistant_closed": "assistant already said goodbye", "question": "asks a question",
    "request": "makes a request", "follow_on": "goes on", "complaint": "reports a problem",
    "answers_question": "answers the assistant's question", "leftover": "other content",
    "ends_on_closing": "ends on the closing", "long": "long message",
}

_STOP = r"[,，.。!！?？;；~～…、:]"
_END = r"(?=\s*(?:" + _STOP + r"|$))"
_CJK = r"[\u3400-\u9fff]"


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(parts))


def _en(body: str) -> str:
    """English words, bounded by non-letters (so they also work next to Chinese characters)."""
    return r"(?<![a-z])(?:" + body + r")(?![a-z])"


_LANGS = r"(?:英语|英文|日语|日文|韩语|法语|德语|西班牙语|俄语|粤语|中文|汉语|普通话)"
_LANGS_EN = r"(?:english|french|spanish|german|japanese|chinese|mandarin|cantonese|korean|italian|russian|portuguese)"
_NOUN_NEXT = r"(?! ?(?:message|letter|email|e-mail|mail|card|party|speech|gift|note|text|post|song|poem|word)s?\b)"
_QUOTED = re.compile(r"[\"“”「『《]([^\"“”」』》]{0,30})[\"“”」』》]")
_CLOSING_WORD = re.compile(r"再见|拜拜|谢|结束|bye|thank|farewell")

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("meta", _rx(
        r"怎么说|如何说|怎么讲|怎么写|怎么念|怎么读|咋说|用" + _LANGS, _LANGS + r"(?:里|中)?(?:是|叫|怎么|咋)",
        r"的(?:意思|翻译|同义词|近义词|反义词)|的" + _LANGS + r"|什么意思|啥意思|翻译|这个词|这个字",
        _en(r"how (?:do|would|can|should|to) (?:you |i |we |one )?(?:say|spell|pronounce|write|translate)"
            r"|what(?:'s| is| does)(?: the)? (?:meaning|translation|word|synonym|opposite)|what does .{1,30} mean"
            r"|meaning of|in " + _LANGS_EN + r"|translat\w*|the word|synonyms?|spell(?:ed|ing)?|pronounc\w*"
            r"|define|definition|(?:he|she|they|someone|my \w+) (?:said|says|told me)"),
        r"(?:他|她|他们|她们|朋友|同事|老板|对方|别人)[^，。,.]{0,6}(?:说|讲)")),
    ("negated_end", _rx(
        r"(?:不|别|不要|不想|不用|先别|还不|还没|没|莫)(?:想|要|用|能|会|急着?)?(?:现在|马上|这么快)?就?"
        r"(?:结束|关闭|挂断?|下线|说再见|再见|拜拜)", r"还没(?:问完|说完|结束|完)|没(?:问完|说完)|继续|接着(?:问|说|聊)",
        _en(r"(?:don't|do not|dont|please don't|not|never|no need to) (?:yet )?(?:end|close|stop|finish|hang up|leave"
            r"|go(?! unnoticed)|quit|say (?:good)?bye)|(?:i'm|i am|im|we're|we are) not (?:done|finished|through)"
            r"|not (?:done|finished|over) yet|not yet|keep (?:going|chatting|talking)|continue"))),
    ("hold", _rx(
        r"等(?:一下|一会儿?|下|等|会儿?|一等|我)|稍等|慢着|且慢|别急",
        _en(r"wait|hold on|hang on|(?:one|a|just a) (?:moment|sec|second|minute|min)"
            r"|give me a (?:moment|sec|second|minute)|let me (?:check|think|see)|brb|be right back"))),
    ("goodbye", _rx(
        r"再见|再会|拜拜|拜了|白白|(?:回头|下回|下次|回)见|(?:下次|改天|回头)再?(?:聊|说)|晚安",
        r"先走了|我走了|下线了|告辞|不打扰(?:你|您)?了",
        r"(?<![0-9A-Za-z.])886?(?![0-9A-Za-z])|(?<![礼崇参朝])拜" + _END,
        r"有(?:需要|问题|事|疑问)(?:的话)?(?:我)?(?:再|会)(?:问|找|联系|咨询|来)",
        r"我(?:要|得|先|该)?(?:去|走|下|睡|撤|忙)(?:了|啦|咯)",
        r"我(?:要|得|先|该)?去(?:吃饭|睡觉|睡|忙|上班|开会|工作)(?:了|啦|咯)",
        r"(?:good ?bye|bye+)(?![a-z])" + _NOUN_NEXT,
        _en(r"bye[ -]?bye|cya|see (?:ya|you)(?: (?:later|soon|tomorrow|next time|around|again))?"
            r"|later,? (?:gator|gater|alligator)"
            r"|(?:talk|speak|chat|catch) (?:to |with )?(?:you|ya|u) (?:later|soon|another time)"
            r"|ttyl|until next time|good ?night|farewell|so long(?! as)|take care|take it easy|peace out|tootles|ta ?ta"
            r"|sayonara|syonara|adios|ciao|i'm out of here|gotta (?:go|run)"
            r"|(?:we'll|i'll|will) (?:talk|chat|speak)(?: to you)? later"
            r"|(?:i|we) (?:need|have|got) to go(?: now)?(?=\s*(?:[,.!;]|$))"
            r"|(?:i'll|i will) (?:let you know|ask|come back|reach out|get back to you|contact you|be in touch)"
            r"(?: later| (?:if|when) (?:i|we) (?:need|have) (?:anything|something|any|more)"
            r"(?: else| more)?(?: questions?| help)?)"
            r"|if i (?:need|have) (?:anything|something|more|any)[a-z ]{0,20}, ?i(?:'ll| will) "
            r"(?:ask|come back|contact you|call|reach out|let you know)"))),
    ("wish", _rx(
        r"祝(?:你|您)们?[^，。！？,.!?]{0,10}|(?:你|您)也(?:是|一样)|也祝(?:你|您)|周末愉快|生活愉快",
        r"have (?:a |an )?(?:very )?(?:nice|good|great|wonderful|fantastic|lovely|pleasant|blessed|fine|amazing|safe)"
        r" (?:day|night|evening|weekend|one|time|trip|holiday|stay)",
        _en(r"(?:you|u) too|same to you|(?:and )?(?:a )?nice day|good day|enjoy your (?:day|evening|weekend)"
            r"|(?:it was|it's been|was) (?:a pleasure|nice|good|great|lovely|pleasant)|with pleasure"
            r"|(?:glad|happy|enjoy\w*|nice|good|great|lovely|pleasant|pleasure|fun)[a-z' ]{0,14}(?:talk|speak|chat)"
            r"(?:ing|ed)? (?:to|with) (?:you|u)|(?:nice|good|great|lovely|pleasant) (?:chat|talk|conversation)"))),
    ("end_request", _rx(
        r"结束(?:对话|聊天|会话|咨询|本次)?|先这样(?:吧|啦|了)?|就这样吧|就到这(?:里|儿)?(?:吧|了)?|到此为止|聊到这",
        _en(r"end (?:the|this|our) (?:chat|conversation|session)|close (?:the|this) (?:chat|conversation)"
            r"|let's (?:end|stop|wrap up|finish)(?: here| now| it| this)?"
            r"|(?:that's|that is|thats) (?:all|it) for (?:now|today)"
            r"|i'm done(?: here)?|we're done(?: here)?|wrap (?:it|this) up"),
        r"^\s*(?:quit|exit|end|退出|结束)\s*[.!！。]*\s*$")),
    ("no_more", _rx(
        r"没有?(?:其他|其它|别的|任何)的?(?:问题|疑问|需要|需求|事情?|帮助)了?",
        r"(?:没有?|不需要)(?:什么)?(?:别的|其他|其它)?(?:问题|疑问|事|需要的?|要问的|想问的|需要帮忙的|帮助|帮忙)?了",
        r"(?<![有])没有?(?:了|啦)|没事儿?了|就(?:这些|这样|这么多)了?|问完了|不问了",
        r"(?:需要|要问|想问|想知道|想要)的(?:信息)?(?:就(?:是)?|都)(?:这些|这么多|知道)了?",
        r"(?:这)?(?:就|正)是我(?:所)?(?:需要|想要)的",
        r"(?:就|只)(?:需要|要)(?:这些|这么多)|(?:应该|暂时|目前|先|我)?还?不(?:用|需要|要)了",
        r"(?:应该|暂时|目前|先|我)?还?不(?:用|需要)" + _END, r"(?:^|" + _STOP + r")\s*不了",
        r"(?:就|都)?够了|就(?:行|可以|好)了|都(?:清楚|明白|知道|解决|满足)了|解决(?:了|啦)",
        _en(r"(?:(?:that|thats|that's|thatll|that'll|this)"
            r" (?:is |was |will be |'ll be |should be |would be |sounds like )?"
            r"(?:all|it|everything|enough)|(?:it|its|it's) (?:is |was |will be )?(?:all|everything|enough))"
            r"(?: (?:what |that )?(?:i|we) (?:need(?:ed)?|want(?:ed)?|have|had)(?: to know)?)?"
            r"|(?:everything|all(?: (?:of )?the)?(?: (?:information|info|help|details))?)(?: that)? (?:i|we)"
            r" (?:need(?:ed)?|want(?:ed)?|wanted to know)(?! is| are)"
            r"|(?:i'm|i am|im) (?:all )?(?:set|good|done|finished)|all set|^\s*nothing"
            r"|nothing (?:else|more|further|rlse|esle)"
            r"|no (?:more|other|further) (?:questions?|concerns?|queries|help|problems?|issues?)"
            r"|no more|no further|no other"
            r"|(?:you've|you have) (?:answered|covered) (?:all|everything)|that (?:covers|answers) (?:it|everything)"
            r"|(?:that|this)(?:'ll| will| should| would) do(?: it)?|that does it|that's about it"
            r"|i have (?:what i need|everything)|(?:exactly|just) what i need(?:ed)?"
            r"|i don't (?:think|believe) so|(?:that|this) helps"
            r"|(?:i'm|i am) not ready to book(?: (?:just |quite )?yet)?"
            r"|(?:don't|do not|dont) (?:need|want) (?:anything|any more|anymore|to book|a (?:booking|reservation))"
            r"|enough(?: for (?:now|today|me))?(?=\s*(?:[,.!]|$))"))),
    ("thanks", _rx(
        r"谢|感激|3q|辛苦(?:了|啦|你了|您了)|麻烦(?:你|您)了|添麻烦了|有劳",
        r"(?:(?:i|we) (?:would like|'d like|want|wanted|need|just wanted) to )?thank(?:s|you|u|x|z|q|ful)?(?![a-z])"
        r"(?:(?: you)?" + _NOUN_NEXT + ")",
        _en(r"thnx|thx|thanx|thans|thnks|thnk|thak you|thamks|tahanks|thsnks|ank you|tnx|tks|ty|tysm|tyvm|cheers"
            r"|appreciate[ds]?|grateful|much obliged|gracias|merci|danke|xie ?xie"))),
    ("praise", _rx(
        r"帮了?(?:我)?(?:很|好|一个|个)?大忙|帮(?:了)?我(?:很多|不少|这么多)|能帮的.{0,6}帮",
        r"(?:你|您)(?:真|太|好|真是)?(?:棒|厉害|给力|专业|贴心|靠谱|有用)",
        _en(r"(?:for|4) (?:all )?(?:of )?(?:your|the|ur|you|my)? ?(?:help|assistance|time|support|service|info"
            r"|information|patience|kindness|order|booking|reservation|confirming|everything|efforts?)"
            r"|(?:you've been|you have been|you were|you are|you're|that was|this was) (?:(?:very|so|really|most|super"
            r"|extremely|a great|such a|a big|the) )*(?:help(?:ful)?|great|amazing|awesome|wonderful|a lifesaver|best)"
            r"|(?:you )?(?:have )?helped (?:me )?(?:with everything|a lot|so much|tremendously)"
            r"|helpful|big help|great help"))),
    ("understood", _rx(
        r"(?<![不没])(?:知道|明白|清楚|了解|懂)(?:了|啦|啰)|(?<![不没])明白|(?<![没未不])收到|记(?:下|住|好)(?:了|啦)",
        r"(?<![不没想要再去])了解" + _END,
        _en(r"got it|gotcha|(?<!not )understood|i see|noted|makes sense|will do|i have it|good to know|i get it"))),
    ("more", _rx(
        r"还有(?:一个|个|几个|一些|件)?(?:问题|事|疑问)|(?:还|再)(?:想|要)?问(?:一下|一个|个|下)?|另外|此外|对了|顺便",
        r"还(?:想|要|需要|得)|再(?:帮|给|查|推荐|找|订|来)|最后(?:还)?(?:想|要|麻烦|请|帮)",
        _en(r"one (?:more|last) (?:thing|question|request)|(?:another|a further|a follow[- ]?up|additional)"
            r" (?:question|thing|request)|(?:i|we) (?:also|still) (?:need|want|have|would like|'d like)"
            r"|(?:also|still) (?:need|want|looking|interested)|i'm also|i am also|can you also|could you also"
            r"|by the way|btw|what about|how about|quick question|i have a question|also"))),
    ("ack", _rx(
        r"好的|好吧|好嘞|好咧|好滴|好哒|好啊|好呀|太好了|很好|真好|好极了|行吧|可以|嗯+呢?|哦+了?|噢|喔|奥",
        r"完美|不错|棒|赞|妥|没问题|没关系|没事儿?|哈哈+|呵呵|嘿嘿|那就好|那还行|那好|也行|原来如此|是的|哇塞|可不是吗",
        r"(?<!不)(?:好|行)" + _END,
        _en(r"ok(?:ay|ey|ie)?|k|alright|all right|great|perfect|awesome|cool|excellent|wonderful|fantastic|nice|good"
            r"|fine|sounds (?:good|great|perfect)|that works|wow|lovely|brilliant|super|terrific|ah|oh|hmm+|yay"
            r"|very well"
            r"|no worries|no problem|np"))),
]
_CLOSING_RULES = {"goodbye", "wish", "end_request", "no_more", "thanks", "praise", "understood"}

_NO = re.compile(r"^\s*(?:没有|没|不用|不需要|不要|不|暂时没有|暂时不用|目前没有|no|nope|nah|not really|not now"
                 r"|not at (?:this|the) (?:time|moment)|none|nothing|no need)(?:[ ,]+(?:no|nothing|none))?"
                 r"(?![a-z])(?! (?:worries|problem))(?!" + _CJK + ")")
_YES_STRONG = re.compile(r"^\s*(?:有|有的|有啊|是的|是|对|要|需要|yes|yeah|yep|yup|yea|sure|please|i do(?! not)|of course"
                         r"|definitely)(?![a-z])(?!的信息)")
_YES_SOFT = re.compile(r"^\s*(?:好的?|好啊|可以|行|嗯+|ok(?:ay)?|alright|sounds good|great|perfect)(?![a-z])")

_QUESTION = _rx(
    r"[?？]", r"(?:吗|么|嘛)" + _END,
    r"(?<!没)(?<!没有)(?<!需要)什么|啥|怎么|怎样|如何|哪|多少|(?<![了好这那十])几(?!乎)",
    r"是否|能否|能不能|可不可以|可否",
    r"有没有|是不是|要不要|为什么|多久|多远|多长", r"(?:^|" + _STOP + r"|\|)\s*那[^,，.。!！?？\s|]{0,12}呢" + _END,
    _en(r"what|where|when|which|who|whom|whose|why|how|is there|are there|do you|does it|does that|did you|is it"
        r"|are they|is that|can (?:you|u|i)|could (?:you|u|i)|would (?:you|u)|will you|may i"))
_REQUEST = _rx(
    r"帮(?:我们?|忙|你|您)(?=" + _CJK + r")|请(?=" + _CJK + r")",
    r"帮(?:查|找|订|预订|推荐|看|问|叫|安排|定|算|改|取消|退|办|处理|确认|写)",
    r"麻烦(?:你|您)?(?=" + _CJK + r")(?!了)|给我|告诉我|发给我|(?<!的)推荐|(?<!自己)(?<!会)(?:预订|预定)",
    r"订(?:一|个|票|房|位|餐|张|桌)|我们?(?:想(?!想)|要|需要|打算|准备|希望)(?=\s*[\u3400-\u9fffa-z0-9])",
    r"想(?:找|去|要|问|了解|知道|订|吃|住)|查(?:一下|下|查)|取消|退(?:款|货|订)|修改|更改|换(?:一|个|成)",
    r"下单|付款|支付|购买",
    r"please\s+(?=[a-z])",
    r"(?:^|[,.!?;]\s*)(?:write|draft|make|create|give|tell|show|send|find|book|check|explain|list"
    r"|compare|calculate|recommend|suggest|get|look up|search|translate|summari[sz]e)(?![a-z])",
    _en(r"i (?:need|want|would like|'d like|wanna|am looking|'m looking|was wondering)|im looking"
        r"|(?:looking|searching) for|help me|tell me|give me|send me|show me|let me know|book|reserve|find|check"
        r"|cancel|change|order|get me"
        r"|need (?:a|an|the|to)|i'd|go ahead|do it|proceed"))
_COMPLAINT = _rx(
    r"不行|不对|报错|出错|错误|失败|没用|不管用|不能用|打不开|坏了|还是不|有问题",
    _en(r"(?:doesn't|does not|didn't|did not|won't|isn't|is not|not) (?:work|working|right|correct|help|load)"
        r"|error|wrong"
        r"|broken|failed|fails|still (?:not|doesn't|don't|get|getting|have|broken)|issue|problem"))
_FOLLOW_ON = _rx(
    r"(?:^|" + _STOP + r")\s*(?:然后|但是|不过(?!还是)|而且|还有)(?=" + _CJK + r")",
    r"(?:^|[,.!;])\s*(?:and|but)\s+(?=[a-z0-9\u3400-\u9fff])", r"(?:[,，、]|\.\.\.|…)\s*$")

_ANYTHING_ELSE = _rx(
    r"还有(?:什么|其他|其它|别的)|还(?:需要|要|想|有)(?:什么|其他|其它|别的|了解|知道)",
    r"(?:其他|其它|别的)(?:问题|需要|帮助|事情?|信息)",
    r"还(?:能|可以)(?:为|帮)|还有.{0,8}(?:吗|么)|还有问题",
    _en(r"anything (?:else|more)|something else|else (?:i|we) can|any(?:thing| other)? (?:more|other|further)"
        r"|further assist\w*|more help|any more info|how else|what else (?:can|may) (?:i|we)"))
_IS_THAT_ALL = _rx(r"就这些(?:吗|么)|都(?:得到)?(?:满足|解决)了(?:吗|么)|(?:还)?满意(?:吗|么)",
                   _en(r"is that all|was that everything|will that be all|(?:needs|questions) been (?:met|answered)"
                       r"|(?:you|you're) (?:all set|certain you don't need)"))
_OFFER = re.compile(r"[?？]\s*$|(?:吗|么)\s*$")
_ASSISTANT_CLOSED = _rx(
    r"不客气|别客气|不用谢|很高兴|祝您|祝你|再见|愉快",
    _en(r"welcome|have a (?:nice|great|good|wonderful)|goodbye|bye|enjoy|glad"
        r"|thank you for (?:using|calling|contacting)"))
_FILLER = _rx(
    r"[你您我们的了啊呀呢吧啦哈嘛哦噢喔嗯呗哇耶亲都就也是这那很太真再次十分非常特别实在一下今天还是个]",
    r"帮助|帮忙|耐心|解答|介绍|推荐|信息|服务|配合|提醒|指导|回答|支持|讲解|查询|热情",
    _en(r"you|your|u|ya|ur|the|a|an|for|so|very|much|lot|again|all|of|my|me|i|it|that|this|is|was|am|to|today|tonight"
        r"|now|really|just|help|helping|time|assistance|info|information|service|services|support|sir|madam|mam|maam"
        r"|too|as|well|and|once|more|kindly|indeed|day|one|have|has|been|we|our|im|i'm|ai"))
_LEFTOVER_RULES = (
    ("question", _QUESTION), ("request", _REQUEST), ("follow_on", _FOLLOW_ON), ("complaint", _COMPLAINT))
_CJK_CHAR = re.compile(_CJK)
_WORD = re.compile(r"[a-z0-9']+")
_SEP = "|"  # what a consumed cue leaves behind, so that its neighbours do not join into new words
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


def _clean(text: Any, limit: int) -> str:
    """Normalised text (NFKC, case-folded, no control characters or lone surrogates), at most about `limit` long."""
    if not isinstance(text, str):
        return ""
    if len(text) > 4 * limit:
        text = text[: 2 * limit] + " " + text[-2 * limit :]
    text = _CONTROL.sub(" ", text)
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().replace("’", "'").replace("‘", "'").split())
    if len(text) > limit:
        text = text[: limit // 2] + _SEP + text[-(limit // 2) :]
    return text


def _last_assistant(history: Any) -> str:
    """The assistant's turn just before the user's message, if any: context, never intent."""
    if not isinstance(history, (list, tuple)) or not history:
        return ""
    item = history[-1]
    if not isinstance(item, dict) or item.get("role") != "assistant":
        return ""
    content = item.get("content")
    if isinstance(content, list):  # vision-style content parts
        content = " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    if isinstance(content, str):
        content = content[-400:]  # "anything else?" comes at the end
    return _clean(content, 400)[-160:]


def _units(rest: str) -> float:
    rest = _FILLER.sub(" ", rest)
    return len(_WORD.findall(rest)) + len(_CJK_CHAR.findall(rest)) / 2


def _ends_on_closing(s: str) -> bool:
    clauses = [c for c in re.split(_STOP, s) if c.strip()]
    if not clauses:
        return False
    last, hit = clauses[-1], False
    for rule, pattern in _RULES:
        if rule in _CLOSING_RULES or rule == "ack":
            last, n = pattern.subn(_SEP, last)
            hit = hit or (n > 0 and rule != "ack")
    return hit and _units(last) <= 1


def detect(text: str, history: list[dict] | None = None) -> Verdict:
    """Score the latest user message; `history` (oldest first, without `text`) is read for context only."""
    raw_len = len(text) if isinstance(text, str) else 0
    s = _clean(text, WINDOW)
    fired: list[tuple[str, float, str]] = []

    def fire(rule: str, match: str, times: float = 1.0) -> None:
        fired.append((rule, WEIGHTS[rule] * times, match.strip()[:24]))

    for quoted in _QUOTED.finditer(s):
        if _CLOSING_WORD.search(quoted.group(1)):
            fire("meta", quoted.group(0))
    rest = _QUOTED.sub(_SEP, s)
    for rule, pattern in _RULES:
        found = pattern.search(rest)
        if found:
            fire(rule, found.group(0))
            rest = pattern.sub(_SEP, rest)

    said = _last_assistant(history)
    asked_done = bool(said and _IS_THAT_ALL.search(said))
    asked_more = bool(said and not asked_done and _ANYTHING_ELSE.search(said))
    offered = bool(said and not asked_more and not asked_done and _OFFER.search(said))
    if (m := _NO.match(s)) is not None:
        fire("no_after_anything_else" if asked_more else "no_after_offer" if offered else "no", m.group(0))
        word, head = m.group(0).strip(), rest.lstrip()
        if head.startswith(word):
            rest = _SEP + head[len(word) :]
    elif (m := _YES_STRONG.match(s) or (_YES_SOFT.match(s) if offered else None)) is not None:
        if asked_done:
            fire("yes_to_is_that_all", m.group(0))
        elif asked_more or offered:
            fire("yes_after_anything_else" if asked_more else "yes_after_offer", m.group(0))
    # The assistant's goodbye only strengthens a closing the user made; on its own it decides nothing.
    if said and _ASSISTANT_CLOSED.search(said) and any(r in _CLOSING_RULES for r, _, _ in fired):
        fire("assistant_closed", said[-24:])

    for rule, pattern in _LEFTOVER_RULES:
        if (m := pattern.search(rest)) is not None:
            fire(rule, m.group(0) or "…")
    units = _units(rest)
    if units > 1.5:
        fire("leftover", f"{units:g} words", min(units - 1.5, 12))
        if offered:
            fire("answers_question", said[-24:])
    # A closing that comes last, after something else was said, is the act the message ends on.
    closing_acts = sum(w > 0 for _, w, _ in fired)
    if (closing_acts >= 2 or units > 1.5) and not any(w <= -4 for _, w, _ in fired) and _ends_on_closing(s):
        fire("ends_on_closing", "")
    if raw_len > LONG:
        fire("long", f"{raw_len} chars")

    total = WEIGHTS["bias"] + sum(w for _, w, _ in fired)
    is_end = total >= 0
    top = sorted(fired, key=lambda f: -abs(f[1]))[:3]
    why = ", ".join(f"{LABELS[r]} {w:+.1f}" for r, w, _ in top) or "no closing cue"
    return Verdict(
        is_end=is_end,
        score=1 / (1 + math.exp(-max(-30.0, min(30.0, total)))),
        reason=f"{'ends' if is_end else 'continues'}: {why}",
        cues=tuple(f"{r}:{m}" for r, _, m in fired),
        confident=abs(total) >= CONFIDENT,
    )
