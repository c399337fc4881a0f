/* default_rules.c — the built-in content-filter categories; see default_rules.h.
 * Terms are phrases with a clear harmful reading, not single topical words:
 * "kill" alone appears in every State of the Union address, "kill you" does not. */
#include "safety/default_rules.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static char *violence[] = {
    "kill you",
    "kill him",
    "kill her",
    "kill them all",
    "kill u",
    "murder you",
    "murder him",
    "murder her",
    "shoot you",
    "shoot him",
    "shoot her",
    "shoot up the school",
    "shoot up a school",
    "shoot up the mall",
    "stab you",
    "stab him",
    "stab her",
    "slit your throat",
    "beat you to death",
    "beat him to death",
    "burn your house down",
    "burn down your house",
    "blow up the school",
    "blow up the building",
    "pipe bomb",
    "pipe bombs",
    "make a bomb",
    "build a bomb",
    "nail bomb",
    "molotov cocktail",
    "molotov cocktails",
    "poison his food",
    "poison her food",
    "how to poison someone",
    "gonna kill you",
    "going to kill you",
    "will kill you",
    "hunt you down",
};
static char *hate[] = {
    "subhuman",
    "subhumans",
    "are vermin",
    "are animals and should",
    "should be exterminated",
    "exterminate them",
    "exterminate them all",
    "inferior race",
    "master race",
    "race traitor",
    "race traitors",
    "gas them all",
    "white power",
    "go back to your country",
    "go back where you came from",
    "ethnic cleansing now",
    "deport them all",
    "mongrel race",
    "*nazi scum",
};
static char *harassment[] = {
    "you are worthless",
    "you re worthless",
    "youre worthless",
    "ur worthless",
    "nobody loves you",
    "no one loves you",
    "you stupid idiot",
    "stupid bitch",
    "dumb bitch",
    "ugly loser",
    "piece of shit",
    "i know where you live",
    "kill yourself",
    "kys",
    "go die",
    "you disgusting pig",
    "fat pig",
    "shut up bitch",
    "*cunt*",
    "retard*",
    "you pathetic loser",
    "worthless trash",
};
static char *harassment_allow[] = {"scunthorpe", "retardant", "retardants", "retardation"};
static char *self_harm[] = {
    "kill myself",     "killing myself",    "end my life",    "ending my life",      "take my own life",
    "want to die",     "wanna die",         "commit suicide", "suicide method",      "suicide methods",
    "how to suicide",  "cut myself",        "cutting myself", "hang myself",         "hanging myself",
    "better off dead", "no reason to live", "slit my wrists", "overdose on purpose", "self harm",
    "self harming",
};
static char *self_harm_response =
    "It sounds like you are going through a lot. You do not have to face it alone: please reach out to "
    "someone you trust or to a local crisis line (in the US, call or text 988). If you are in immediate "
    "danger, call your local emergency number.";
static char *sexual[] = {
    "porn*",   "send nudes", "nude pics", "nude photos", "naked pics", "sex tape",
    "blowjob", "blowjobs",   "handjob",   "xxx",         "horny",      "cum",
    "cumshot", "dick pic",   "dick pics", "milf",        "hentai",     "nsfw",
};
static char *sexual_allow[] = {"cum laude", "summa cum laude", "magna cum laude"};
static char *illicit[] = {
    "buy cocaine",
    "sell cocaine",
    "cook meth",
    "make meth",
    "how to make meth",
    "buy heroin",
    "sell heroin",
    "buy fentanyl",
    "launder money",
    "launder the money",
    "counterfeit money",
    "counterfeit bills",
    "fake passport",
    "fake passports",
    "stolen credit card",
    "stolen credit cards",
    "hotwire a car",
    "ghost gun",
    "untraceable gun",
    "untraceable guns",
    "without a background check",
    "ddos attack",
    "buy a stolen",
    "fake id",
    "fake ids",
};
static char *spam[] = {
    "click here to claim",
    "claim your prize",
    "claim your reward",
    "congratulations you have won",
    "congratulations you ve won",
    "free gift card",
    "verify your account",
    "confirm your password",
    "your account has been suspended",
    "your account will be suspended",
    "wire transfer fee",
    "nigerian prince",
    "limited time offer",
    "cheap viagra",
    "viagra",
    "cialis",
    "double your bitcoin",
    "crypto giveaway",
    "earn money fast",
    "make money fast",
    "risk free investment",
    "100% free",
    "act now and",
    "click the link below",
};
static char *pii_patterns[] = {
    "builtin:email",
    "builtin:phone",
    "builtin:card_number",
    "(?<![\\d-])\\d{3}-\\d{2}-\\d{4}(?![\\d-])",
};

static sg_filter_category categories[] = {
    {"violence", violence, N(violence), 0, 0, 0, 0, SG_FILTER_BLOCK, 0, 1, 1, 0},
    {"hate", hate, N(hate), 0, 0, 0, 0, SG_FILTER_BLOCK, 0, 1, 1, 0},
    {"harassment", harassment, N(harassment), 0, 0, harassment_allow, N(harassment_allow), SG_FILTER_BLOCK, 0,
     1, 1, 0},
    {"self-harm", self_harm, N(self_harm), 0, 0, 0, 0, SG_FILTER_HARDCODED, 0, 1, 1, 0},
    {"sexual", sexual, N(sexual), 0, 0, sexual_allow, N(sexual_allow), SG_FILTER_BLOCK, 0, 1, 1, 0},
    {"illicit", illicit, N(illicit), 0, 0, 0, 0, SG_FILTER_BLOCK, 0, 1, 1, 0},
    {"spam/phishing", spam, N(spam), 0, 0, 0, 0, SG_FILTER_FLAG, 0, 1, 1, 0},
    {"pii", 0, 0, pii_patterns, N(pii_patterns), 0, 0, SG_FILTER_REDACT, 0, 1, 1, 0},
};

static sg_filter_rules rules = {categories, N(categories), 0, 0, 0};

const sg_filter_rules *sg_default_filter_rules(void) {
    categories[3].response = self_harm_response;
    return &rules;
}
