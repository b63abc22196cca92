package protocol

import (
	"fmt"
	"strings"
	"testing"
)

func TestSignString(t *testing.T) {
	tests := []struct {
		name    string
		profile Profile
		message string
		want    string
	}{
		{
			"paylist", ProfileFJS,
			`{"chs_fjs_appid":"ldxt","paylist":[` +
				`{"name":"王二","idcard":"350582199711193519","cert_type":"01"},` +
				`{"name":"李四","idcard":"350181199011193519","cert_type":"01"}]}`,
			`chs_fjs_appid=ldxt&paylist=[{"cert_type":"01","idcard":"350582199711193519","name":"王二"},` +
				`{"cert_type":"01","idcard":"350181199011193519","name":"李四"}]&key=K`,
		},
		{
			"nested objects", ProfileFJS,
			`{"o":{"z":{"b":"2","a":"1"},"y":[{"d":"4","c":"3"}]}}`,
			`o={"y":[{"c":"3","d":"4"}],"z":{"a":"1","b":"2"}}&key=K`,
		},
		{
			"array order kept", ProfileFJS,
			`{"a":["b","a","c"]}`,
			`a=["b","a","c"]&key=K`,
		},
		{
			"top empty dropped", ProfileFJS,
			`{"a":"","b":null,"c":[],"d":{},"e":"x"}`,
			`e=x&key=K`,
		},
		{
			"nested empty dropped", ProfileFJS,
			`{"f":{"g":"","h":null,"i":[],"j":{},"k":"v"},"l":[null,"",[],{},"w"]}`,
			`f={"k":"v"}&l=["w"]&key=K`,
		},
		{
			"emptied object dropped", ProfileFJS,
			`{"m":{"n":{"o":null,"p":""}},"e":"x"}`,
			`e=x&key=K`,
		},
		{
			"emptied array dropped", ProfileFJS,
			`{"p":[[],[{}],{"q":[]},[null,[""]]],"e":"x"}`,
			`e=x&key=K`,
		},
		{
			"emptied person dropped", ProfileFJS,
			`{"paylist":[{"name":"","idcard":null},{"name":"王二","note":{"x":[]}}]}`,
			`paylist=[{"name":"王二"}]&key=K`,
		},
		{
			"empty with whitespace", ProfileFJS,
			`{"a":[ ],"b":{ },"c":{ "d" : [ ] },"e":"x"}`,
			`e=x&key=K`,
		},
		{
			"whitespace removed", ProfileFJS,
			"{ \"o\" : {\n\t\"b\" : 1 ,\r\n \"a\" : [ 1 , 2 ] } }",
			`o={"a":["1","2"],"b":"1"}&key=K`,
		},
		{
			"false and zero kept", ProfileFJS,
			`{"o":{"f":false,"z":0,"s":"0"},"f":false,"z":0}`,
			`f=false&o={"f":"false","s":"0","z":"0"}&z=0&key=K`,
		},
		{
			"nested literals", ProfileFJS,
			`{"o":{"price":1.50,"big":1e3,"up":1E+3,"neg":-0.0,"flag":true,"n":0,"arr":[1,2.0,true]}}`,
			`o={"arr":["1","2.0","true"],"big":"1e3","flag":"true","n":"0","neg":"-0.0","price":"1.50","up":"1E+3"}&key=K`,
		},
		{
			"nested long number", ProfileFJS,
			`{"o":{"n":12345678901234567890.123456789e-2}}`,
			`o={"n":"12345678901234567890.123456789e-2"}&key=K`,
		},
		{
			"top literals", ProfileFJS,
			`{"amt":1.50,"big":1e3,"code":0,"flag":true,"off":false,"neg":-1,"long":12345678901234567890}`,
			`amt=1.50&big=1e3&code=0&flag=true&long=12345678901234567890&neg=-1&off=false&key=K`,
		},
		{
			"html and chinese", ProfileFJS,
			`{"a":"A&B<c>","b":{"s":"x&y<z>中文"},"c":"中文"}`,
			`a=A&B<c>&b={"s":"x&y<z>中文"}&c=中文&key=K`,
		},
		{
			"escaped characters", ProfileFJS,
			`{"a":"\u0026\u4e2d","b":{"s":"\u003c\u4e2d\u6587\u003e","\u0074":"\/"}}`,
			`a=&中&b={"s":"<中文>","t":"/"}&key=K`,
		},
		{
			"escaped surrogate pair", ProfileFJS,
			`{"a":"\ud83d\ude00","b":{"s":"\ud83d\ude00"}}`,
			"a=\U0001F600&b={\"s\":\"\U0001F600\"}&key=K",
		},
		{
			"top escapes decoded", ProfileFJS,
			`{"s":"a\"b\\c\nd\/e"}`,
			"s=a\"b\\c\nd/e&key=K",
		},
		{
			"top raw delimiters", ProfileFJS,
			`{"u":"a=b&c"}`,
			`u=a=b&c&key=K`,
		},
		{
			"nested escapes minimal", ProfileFJS,
			`{"o":{"s":"q\"b\\c\/d\b\f\n\r\t\u0001\u001f\u007f\u2028é"}}`,
			`o={"s":"q\"b\\c/d\b\f\n\r\t\u0001\u001f` + "\x7f\u2028é" + `"}&key=K`,
		},
		{
			"nested raw unicode", ProfileFJS,
			"{\"o\":{\"s\":\"\u007f\u2028\u2029\"}}",
			"o={\"s\":\"\u007f\u2028\u2029\"}&key=K",
		},
		{
			"nested name escapes", ProfileFJS,
			`{"o":{"k\"q":"v","\u006e":"1"}}`,
			`o={"k\"q":"v","n":"1"}&key=K`,
		},
		{
			"key byte order", ProfileFJS,
			`{"a_b":"5","aB":"4","a":"3","_a":"2","A":"1"}`,
			`A=1&_a=2&a=3&aB=4&a_b=5&key=K`,
		},
		{
			"nested key byte order", ProfileFJS,
			`{"o":{"a_b":"5","aB":"4","a":"3","_a":"2","A":"1"}}`,
			`o={"A":"1","_a":"2","a":"3","aB":"4","a_b":"5"}&key=K`,
		},
		{
			"nested escaped name order", ProfileFJS,
			`{"o":{"\u0062":"1","a":"2","\u0041":"3"}}`,
			`o={"A":"3","a":"2","b":"1"}&key=K`,
		},
		{
			"prefix sorts first", ProfileFJS,
			`{"ab":"2","a":"1","abc":"3","b":"4"}`,
			`a=1&ab=2&abc=3&b=4&key=K`,
		},
		{
			"chinese key order", ProfileFJS,
			`{"名":"2","z":"1"}`,
			`z=1&名=2&key=K`,
		},
		{
			"fjs excluded", ProfileFJS,
			`{"chs_fjs_sign":"S","chs_fjs_encdata":"E","extra":{"x":"1"},"signData":"SD","encData":"ED","b":"1"}`,
			`b=1&encData=ED&signData=SD&key=K`,
		},
		{
			"hsa excluded", ProfileHSA,
			`{"chs_fjs_sign":"S","chs_fjs_encdata":"E","extra":"x","signData":"SD","encData":"ED","b":"1"}`,
			`b=1&chs_fjs_encdata=E&chs_fjs_sign=S&key=K`,
		},
		{
			"nested extra kept", ProfileFJS,
			`{"o":{"extra":"1","chs_fjs_sign":"S"}}`,
			`o={"chs_fjs_sign":"S","extra":"1"}&key=K`,
		},
		{
			"hsa data scalars", ProfileHSA,
			`{"appId":"X","data":{"pageNo":2,"keyWords":"","drugType":""}}`,
			`appId=X&data={"pageNo":"2"}&key=K`,
		},
		{
			"deep arrays", ProfileHSA,
			`{"a":[[1,[2,{}]],[]]}`,
			`a=[["1",["2"]]]&key=K`,
		},
	}
	tests = append(tests, manyFieldsCase(60))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.profile.SignString([]byte(tt.message), "K")
			if err != nil {
				t.Fatalf("SignString: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("sign string\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// manyFieldsCase builds a message of n fields, top level and nested, in
// reverse order, so that long objects are sorted as well as short ones.
func manyFieldsCase(n int) struct {
	name    string
	profile Profile
	message string
	want    string
} {
	var members, sorted []string
	for i := n - 1; i >= 0; i-- {
		members = append(members, fmt.Sprintf(`"f%03d":"%d"`, i, i))
	}
	for i := range n {
		sorted = append(sorted, fmt.Sprintf("f%03d=%d", i, i))
	}
	var nestedSorted []string
	for i := range n {
		nestedSorted = append(nestedSorted, fmt.Sprintf(`"f%03d":"%d"`, i, i))
	}
	object := "{" + strings.Join(members, ",") + "}"
	return struct {
		name    string
		profile Profile
		message string
		want    string
	}{
		name:    fmt.Sprintf("%d fields", n),
		profile: ProfileFJS,
		message: "{" + strings.Join(members, ",") + `,"zz":` + object + "}",
		want:    strings.Join(sorted, "&") + "&zz={" + strings.Join(nestedSorted, ",") + "}&key=K",
	}
}

// TestSignStringMatchesOpen checks that SignString and Open agree: the
// digest Open keeps is that of the string SignString builds.
func TestSignStringMatchesOpen(t *testing.T) {
	s := suite{ProfileFJS, SignMD5, EncNone}
	client, server := suiteKeys(t, s)
	body := seal(t, s, client, false)
	opened, err := openBody(s.profile, body, false, server)
	if err != nil {
		t.Fatal(err)
	}
	signString, err := ProfileFJS.SignString(body, testChannel(ProfileFJS).signKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(signString), wantSignString(s, false); got != want {
		t.Errorf("sign string\n got %s\nwant %s", got, want)
	}
	if opened.SignDigest != replayDigest(string(signString)) {
		t.Errorf("SignDigest = %x, want SHA-256 of %s", opened.SignDigest, signString)
	}
}

func TestSignStringRejects(t *testing.T) {
	tests := []struct {
		name    string
		message string
	}{
		{"duplicate", `{"a":"1","a":"2"}`},
		{"duplicate escaped", `{"a":"1","\u0061":"2"}`},
		{"duplicate empty", `{"a":"","a":"2"}`},
		{"duplicate excluded", `{"extra":"1","extra":"2"}`},
		{"duplicate nested", `{"o":{"b":"1","b":"2"}}`},
		{"duplicate nested empty", `{"o":{"b":null,"b":"2"}}`},
		{"duplicate in array", `{"o":[{"b":"1","b":"2"}]}`},
		{"array", `[{"a":"1"}]`},
		{"string", `"a=1"`},
		{"invalid utf8", "{\"a\":\"\xff\"}"},
		{"trailing", `{"a":"1"}{}`},
		{"empty", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ProfileFJS.SignString([]byte(tt.message), "K")
			wantCode(t, err, CodeMalformed)
		})
	}
}
