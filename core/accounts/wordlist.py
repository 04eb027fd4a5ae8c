"""Words for generated passphrases: common, short, lower-case English words, all distinct.

Written for this project (no outside list). Each word is 3 to 8 letters a-z, so a passphrase is
easy to type on a phone and says nothing about its owner. The size of the list sets the
entropy (see :mod:`core.accounts.passphrases`); a test checks that it stays large enough.
"""

from __future__ import annotations

_WORDS = """
able acid acorn actor adapt adult afford after again agent agree ahead aim air alarm album
alert alien alley allow almond alpha alpine amber amount anchor angle animal ankle answer
apple april apron arch arena argue arm armor army arrow art artist ask aspen atlas atom
attic audio august aunt autumn avenue award awake axis baby bacon badge bagel baker
balance ball bamboo banana band banjo bank barley barn barrel basic basin basket bath beach
beam bean bear beard beast beaver bed beef beetle begin bell belt bench berry bicycle bike
bird birth bishop bison bit black blade blanket blast blaze bless blind block bloom blouse
blue board boat body boil bold bolt bone bonus book boost boot border bottle bottom bounce
bowl box brain branch brass brave bread break breeze brick bridge brief bright bring brisk
broad bronze brook broom brother brown brush bubble bucket budget buffalo build bulb bundle
bunny burger burst bus bush butter button buyer cabin cable cactus cake calm camel camera
camp canal candle candy canoe canvas canyon cape capital captain car carbon card cargo
carpet carrot carry cart case castle casual cat catch cattle cave cedar celery cell cement
census cereal chair chalk chance change chapter charm chart chase cheap check cheese chef
cherry chess chest chicken chief child chimney chin chip choice chorus cider cinema circle
citrus city civic claim clap class clay clean clerk clever click cliff climb clinic clock
close cloth cloud clover club coach coast coat cobalt cocoa coconut code coffee coil coin
cold collar colony color column comb comet comfort comic common concert copper coral core
corn corner cotton couch count county couple course cousin cover cow coyote crab cradle
craft crane crater crayon cream credit creek crew cricket crisp crop cross crowd crown
cruise crumb crystal cube cup curtain curve cushion custom cycle daisy dance danger dark
date dawn day deal debate decade deck decor deer degree delta demand denim dental depth
desert design desk detail device dial diamond diary diet digit dinner direct dish distant
diver dock doctor dolphin domain donkey door double dough dove dragon drama draw dream
dress drift drill drink drive drop drum duck dune dust duty eager eagle early earth east
easy echo eclipse edge editor effort eight elbow elder eleven elk ember emerald empire
empty enable energy engine enjoy enter entry equal era escape essay estate ethics evening
event exact exam exhibit exit expand expert extra fabric face factor fair falcon family
famous fancy farm fashion fast father fauna feast feather fence fern ferry festival fever
fiber field fiesta figure film final finger finish fire first fish five flag flame flash
flat flavor fleet flight float flock floor flour flower fluid flute focus fog folder
follow food foot forest fork form fort forum fossil fountain four fox frame fresh friend
frog front frost fruit fuel funny future gadget galaxy gallon game garage garden garlic
gate gather gauge gecko gem genius gentle giant gift ginger giraffe glad glass globe glove
glow goat gold golf good goose gorilla gospel grace grain grant grape graph grass gravel
great green grid grill grin grocery ground group grove grow guard guess guest guide guitar
gulf habit hair half hall hammer hamster hand happy harbor hard harvest hat hawk hazel
head health heart heavy hedge height hello helmet help herb hero heron hidden high hill
hint hip history hobby hockey holiday hollow honey hood hope horizon horn horse hotel hour
house hover humble humor hundred hunter hurdle husband hybrid ice icon idea igloo image
impact inch index indigo infant inner input insect inside invite iron island ivory ivy
jacket jaguar jam jar jazz jeans jelly jewel job join joke journal journey joy judge juice
jump jungle junior jury just kayak keen kettle key kid kind king kitchen kite kitten kiwi
knee knife knock koala label ladder lady lake lamp land lane laptop large laser later
laugh lava lawn layer leader leaf lean learn leather legend lemon lens leopard lesson
letter level liberty library lift light lily limb lime limit linen lion liquid list
little live lizard llama lobster local lock lodge logic lonely long loop lottery loud
lounge love loyal lucky lumber lunar lunch lyrics machine magic magnet maid mail major
mammal mango manual maple marble march margin marine market marsh mask master match
matter maximum meadow meal medal media melody melon member memory mental menu mercy merit
mesh metal meter method middle midnight milk mill mimic mind minor minute mirror misty
mixer model modern moment monkey month moon moral morning mosaic moss mother motor
mountain mouse mouth movie muffin mule museum music mustard mutual myth nail napkin narrow
nation native nature navy near neck needle neon nephew nest net network neutral never
news next nice niece night nine noble noodle normal north nose note novel number nurse
nut oak oasis object ocean october odor offer office often olive omega onion open opera
option orange orbit orchard order organ orient origin otter outdoor oval oven owner oxygen
oyster pace paddle page pair palace palm panda panel panther paper parade parent park
parrot party pass pasta patch path patrol pause peace peach peak peanut pear pebble pelican
pen pencil people pepper perfect permit person pet phone photo piano picnic picture piece
pig pigeon pillow pilot pine pink pioneer pipe pirate pitch pizza place planet
plant plastic plate play plaza plenty plum poem poet point polar pole police pond pony
pool popular portal portion position potato pottery powder power praise prefer present
pretty price pride primary prince print prize problem process produce profit
program project promote proof proud public pudding pulse pumpkin pupil puppy purple
puzzle pyramid quality quantum quarter queen quick quiet quilt quiz rabbit raccoon race
rack radar radio rail rain raisin rally ranch random range rapid raven razor ready real
reason rebel recipe record recycle reef reform region relax remote rent repair report
rescue result retire reward rhythm ribbon rice rich ride ridge right ring ripple
rising ritual rival river road robin robot rocket rodeo roof rookie room rose rotate rough
round route royal rubber rug rule runway rural saddle safari safe saga sail salad salmon
salon salt sample sand satin sauce sausage scale scarf scene school science scout screen
script scrub sea season seat second secret sector seed select senior sense series service
session settle seven shadow shallow share shark shelf shell shelter sheriff shield shift
shine ship shirt shoe shore short shoulder shovel shrimp sibling sight signal silent
silk silver simple since siren sister six size skate sketch ski skill sky slab sled sleep
slice slide slim slogan slot slow small smart smile smoke snack snail snake snow soap soccer
social sock soda soft solar soldier solid sonic soup south space spark speak special speed
sphere spice spider spike spirit split sponge spoon sport spot spray spring spruce square
squid stable stadium staff stage stairs stamp stand star start state station statue steak
steam steel stem step stereo stick still stone stool story stove strategy straw stream
street strong studio style subject sugar suit summer summit sun sunny sunset super supply
supreme surface surge surprise sushi swallow swamp swan sweet swift swim swing switch sword
symbol syrup system table tackle tail talent tank tape target task taxi tea teach team
tennis tent term test text thank theme theory thick thumb thunder ticket tide tiger timber
time tiny tip title toast today token tomato tone tool tooth topic torch tornado tortoise
total tourist tower town toy track trade traffic trail train transfer travel tray treat
tree trend trial tribe trick trip trophy truck true trumpet trust truth tulip tuna tunnel
turkey turtle twelve twenty twice twin type umbrella uncle under unfold uniform unique
unit universe upper urban usage useful usual vacuum valid valley valve vanilla vapor
velvet vendor venue verb version vessel veteran viaduct video view village vintage violin
virtual visa visit visual vital vivid vocal voice volcano volume voyage wagon waiter walk
wall walnut warm wash wasp water wave wealth weather web wedding weekend welcome west whale
wheat wheel whisper white wide wild window wine wing winner winter wire wisdom wise wish
wolf wonder wood wool word work world worth wrap wrist writer yacht yard year yellow yoga
young youth zebra zero zone zoo
"""

WORDS: tuple[str, ...] = tuple(dict.fromkeys(_WORDS.split()))
