package jobs

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// sampleVocabulary is the fixed vocabulary of generated text: the same
// seed gives the same bytes on every machine.
var sampleVocabulary = strings.Fields(`
the of and to in a is that for it as was with be by on not he this are or his from at which but
have an they you were her all she there would their we him been has when who will more no if out
so said what up its about into than them can only other new some could time these two may then do
first any my now such like our over man me even most made after also did many before must through
back years where much your way well down should because each just those people how too little state
good very make world still own see men work long get here between both life being under never day
same another know while last might us great old year off come since against go came right used take
three states himself few house use during without again place american around however home small
found thought went say part once general high upon school every don does got united left number
course war until always away something fact though water less public put think almost hand enough
far took head yet government system better set told nothing night end why called didn eyes find
going look asked later knew point next program city business give group toward young days let room
president side social given present several order national possible rather second face per among
form important often things looked early white case john become large big need four within felt
along children saw best church ever least power development light thing seemed family interest want
members mind country area others although turned done open god service certain kind problem began
different door thus help sense means whole matter perhaps itself york times law human line above name
example action company hands local show whether five history gave today either act feet across taken
past quite anything having seen death experience body word half really week field car words already
themselves information tell college shall money period held keep sure probably free seems political
real behind cannot miss question air office making brought whose special major heard problems federal
became study ago moment available known result street economic boy position reason change south board
individual job areas society west close turn love community true court force full seem am policy
river harbor lantern meadow orchard quarry saddle thimble vessel willow anchor beacon cinder harvest
`)

// WriteSampleText writes about size bytes of deterministic English-like
// text in ASCII: sentences of words drawn from a fixed vocabulary with a
// Zipf distribution, several sentences a line.
func WriteSampleText(w io.Writer, size int64, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x676f6d72))
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(sampleVocabulary)-1))
	bw := bufio.NewWriterSize(w, 256<<10)
	var written int64
	line := make([]byte, 0, 256)
	for written < size {
		line = line[:0]
		for s := 0; s < 1+rng.IntN(3); s++ {
			n := 4 + rng.IntN(10)
			for i := range n {
				word := sampleVocabulary[zipf.Uint64()]
				if i == 0 {
					line = append(line, word[0]-'a'+'A')
					line = append(line, word[1:]...)
				} else {
					line = append(line, ' ')
					line = append(line, word...)
				}
				if i < n-1 && rng.IntN(12) == 0 {
					line = append(line, ',')
				}
			}
			line = append(line, '.', ' ')
		}
		line[len(line)-1] = '\n'
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("write sample text: %w", err)
		}
		written += int64(len(line))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write sample text: %w", err)
	}
	return nil
}

// WriteSampleAccessLog writes n deterministic access-log lines in combined
// format, starting at start and a few seconds apart. Every 997th line is
// cut short (its user agent loses the closing quote), as real logs
// sometimes are, so that logagg has a reject to report.
func WriteSampleAccessLog(w io.Writer, n int, start time.Time, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x6c6f6773))
	methods := []string{"GET", "GET", "GET", "GET", "GET", "GET", "POST", "HEAD"}
	paths := []string{"/", "/index.html", "/about", "/blog/", "/blog/mapreduce", "/blog/raft", "/images/logo.png",
		"/css/site.css", "/js/app.js", "/api/v1/items", "/api/v1/items/42", "/search", "/favicon.ico", "/robots.txt"}
	statuses := []int{200, 200, 200, 200, 200, 200, 200, 304, 304, 301, 404, 404, 500}
	agents := []string{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "curl/8.5.0", "Googlebot/2.1 (+http://www.google.com/bot.html)"}
	bw := bufio.NewWriter(w)
	t := start.UTC()
	for i := range n {
		t = t.Add(time.Duration(rng.IntN(4000)) * time.Millisecond)
		host := fmt.Sprintf("10.%d.%d.%d", rng.IntN(4), rng.IntN(16), 1+rng.IntN(250))
		status := statuses[rng.IntN(len(statuses))]
		size := "-"
		if status != 304 {
			size = fmt.Sprint(200 + rng.IntN(50000))
		}
		path := paths[rng.IntN(len(paths))]
		if rng.IntN(5) == 0 {
			path += fmt.Sprintf("?page=%d", rng.IntN(9))
		}
		agentEnd := `"`
		if i%997 == 996 {
			agentEnd = ""
		}
		_, err := fmt.Fprintf(bw, "%s - - [%s] \"%s %s HTTP/1.1\" %d %s \"-\" \"%s%s\n",
			host, t.Format(accessTimeLayout), methods[rng.IntN(len(methods))], path, status, size, agents[rng.IntN(len(agents))], agentEnd)
		if err != nil {
			return fmt.Errorf("write sample log: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write sample log: %w", err)
	}
	return nil
}
